//! Import and release: how an arena with a source gets a span when nothing
//! fits and gives spans back once they are wholly free, and how an arena is
//! itself a [`Source`] for other arenas. See design.md §7.

use crate::bits::round_up;
use crate::error::{Error, OverlappingSpan};
use crate::log::{debug, warning};
use crate::policy::{AllocFlags, Constraints, Fit, Policy, Wait};
use crate::source::Source;
use crate::sync::Guard;

use super::state::{Releases, State};
use super::Arena;

impl Arena {
    /// Imports a span big enough for `fit` and allocates from it. Returns
    /// `Ok(None)` when the source (or the import limit) refused.
    pub(super) fn import<'a>(
        &'a self,
        state: Guard<'a, State>,
        fit: &Fit,
        flags: AllocFlags,
    ) -> (Guard<'a, State>, Result<Option<usize>, Error>) {
        let source = self.source.as_ref().expect("caller checked for a source");
        // libumem's import size: room for the phase, rounded to the larger
        // of the alignment and the import quantum. A nocross request asks
        // the source for a span aligned to the boundary, so the request sits
        // at `phase` from the span's start without crossing (the
        // over-constrained check guarantees it fits in one nocross block).
        let unit = fit.align.max(self.import_quantum);
        let import_align = fit.align.max(fit.nocross).max(self.quantum);
        let Some(asize) = fit
            .size
            .checked_add(fit.phase)
            .map(|n| round_up(n, unit))
            .filter(|&n| n >= fit.size)
        else {
            return (state, Ok(None));
        };
        if state.import_limit != 0
            && state.counters.mem_import.saturating_add(asize) > state.import_limit
        {
            debug!(arena = %self.name, asize, limit = state.import_limit, "import refused by limit");
            return (state, Ok(None));
        }
        drop(state);
        let imported = source.import(asize, import_align, flags.get_wait());
        debug!(arena = %self.name, asize, ?imported, "import");
        let mut state = self.state.lock();
        let Some((start, size)) = imported else {
            return (state, Ok(None));
        };
        let q = self.quantum;
        if size < asize
            || (start | size) & (q - 1) != 0
            || start & (import_align - 1) != 0
            || start.checked_add(size).is_none()
        {
            drop(state);
            warning!(arena = %self.name, start, size, asize, import_align, "source returned an unusable span; giving it back");
            source.release(start, size);
            return (self.state.lock(), Ok(None));
        }
        // A source hands out each range once, so imported spans cannot
        // overlap each other; a span the caller added can overlap what the
        // source hands out. Only arenas holding added spans (more memory
        // than they imported) pay for the search of the span list.
        if state.counters.mem_total != state.counters.mem_import {
            if let Some(span) = state.overlapping_span(start, size) {
                let overlap = OverlappingSpan {
                    arena: self.name,
                    base: start,
                    size,
                    existing_start: span.start(),
                    existing_end: span.end(),
                };
                drop(state);
                warning!(arena = %self.name, start, size, "imported span overlaps an added span; giving it back");
                source.release(start, size);
                return (self.state.lock(), Err(overlap.into()));
            }
        }
        state = match self.populate(state) {
            Ok(s) => s,
            Err(s) => {
                drop(s);
                source.release(start, size);
                return (
                    self.state.lock(),
                    Err(Error::OutOfTags { arena: self.name }),
                );
            }
        };
        let seg = state.span_create(start, size, true);
        // Place the request exactly as libumem does: at `phase` past the
        // alignment from the start of the new span (adjusted for nocross and
        // the window, which libumem never imports for).
        let one = Fit {
            policy: Policy::FirstFit,
            ..*fit
        };
        let Some(addr) = state.fit_in(seg, &one) else {
            let mut releases = Releases::default();
            releases.push(state.discard_fresh_span(seg));
            drop(state);
            self.give_back(&releases);
            return (self.state.lock(), Ok(None));
        };
        state.seg_alloc(seg, addr, fit.size);
        (state, Ok(Some(addr)))
    }

    /// Hands spans collected under the lock back to the source, with the
    /// lock dropped.
    pub(super) fn give_back(&self, releases: &Releases) {
        if let Some(source) = &self.source {
            for (start, size) in releases.iter() {
                debug!(arena = %self.name, start, size, "release span to source");
                source.release(start, size);
            }
        }
    }
}

impl Source for Arena {
    fn import(&self, size: usize, align: usize, wait: Wait) -> Option<(usize, usize)> {
        let flags = AllocFlags::new().wait(wait);
        let addr = if align <= self.quantum {
            self.alloc(size, flags)
        } else {
            self.xalloc(size, &Constraints::new().align(align), flags)
        };
        addr.ok().map(|addr| (addr, size))
    }

    fn release(&self, start: usize, size: usize) {
        if let Err(err) = self.free(start, size) {
            panic!("vmem: a child arena released a span its source never gave: {err}");
        }
    }

    fn quantum(&self) -> usize {
        self.quantum
    }
}
