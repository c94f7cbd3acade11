/*
 * test_vmem.c: exercises every function and flag of include/vmem.h against
 * libvmem.a. Exits 0 when every check holds; prints the failed check and
 * exits 1 otherwise. CI runs it under Valgrind (no errors, no leaks).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmem.h"

static int failures;

#define CHECK(cond)                                                          \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "%s:%d: check failed: %s\n",         \
			    __FILE__, __LINE__, #cond);                      \
			failures++;                                          \
		}                                                            \
	} while (0)

#define P(x) ((void *)(uintptr_t)(x))
#define U(p) ((uintptr_t)(p))

/* ---- walk recording ---------------------------------------------------- */

struct seg {
	uintptr_t start;
	size_t size;
};

struct record {
	struct seg segs[64];
	int n;
};

static void
record_seg(void *arg, void *start, size_t size)
{
	struct record *r = arg;
	if (r->n < 64) {
		r->segs[r->n].start = U(start);
		r->segs[r->n].size = size;
	}
	r->n++;
}

/* ---- policies, VM_ENDALLOC, VM_NOSLEEP, VM_PANIC, other flags --------- */

static void
test_policies(void)
{
	vmem_t *ids = vmem_create("pids", P(1), 100, 1, NULL, NULL, NULL, 0,
	    VM_SLEEP);
	CHECK(ids != NULL);
	void *a = vmem_alloc(ids, 1, VM_NOSLEEP | VM_NEXTFIT);
	void *b = vmem_alloc(ids, 1, VM_NOSLEEP | VM_NEXTFIT);
	vmem_free(ids, a, 1);
	void *c = vmem_alloc(ids, 1, VM_NOSLEEP | VM_NEXTFIT);
	CHECK(U(a) == 1 && U(b) == 2 && U(c) == 3);	/* no reuse */
	struct record rotor = { .n = 0 };
	vmem_walk(ids, VMEM_ROTOR, record_seg, &rotor);
	CHECK(rotor.n == 1);
	vmem_free(ids, b, 1);
	vmem_free(ids, c, 1);
	CHECK(vmem_size(ids, VMEM_ALLOC) == 0);
	CHECK(vmem_size(ids, VMEM_ALLOC | VMEM_FREE) == 100);
	vmem_destroy(ids);

	const int policies[] = { 0, VM_BESTFIT, VM_FIRSTFIT };
	for (int i = 0; i < 3; i++) {
		vmem_t *vm = vmem_create("fit", P(0x1000), 0x10000, 0x100,
		    NULL, NULL, NULL, 0, VM_SLEEP);
		void *x = vmem_alloc(vm, 0x100, VM_NOSLEEP | policies[i]);
		void *y = vmem_alloc(vm, 0x100, VM_NOSLEEP | policies[i]);
		CHECK(U(x) == 0x1000 && U(y) == 0x1100);
		vmem_free(vm, x, 0x100);
		/* Every policy takes the exact-fit hole at 0x1000 first. */
		void *z = vmem_alloc(vm, 0x100, VM_NOSLEEP | policies[i]);
		CHECK(U(z) == 0x1000);
		vmem_free(vm, y, 0x100);
		vmem_free(vm, z, 0x100);
		vmem_destroy(vm);
	}

	vmem_t *end = vmem_create("end", P(0x1000), 0x10000, 0x1000, NULL,
	    NULL, NULL, 0, VM_SLEEP);
	void *hi = vmem_alloc(end, 0x1000, VM_NOSLEEP | VM_ENDALLOC);
	void *lo = vmem_alloc(end, 0x1000, VM_NOSLEEP);
	CHECK(U(hi) == 0x10000);
	CHECK(U(lo) == 0x1000);
	void *xhi = vmem_xalloc(end, 0x2000, 0x2000, 0, 0, NULL, NULL,
	    VM_NOSLEEP | VM_ENDALLOC);
	CHECK(U(xhi) == 0xe000);
	/* Too big: NULL with VM_NOSLEEP; VM_PANIC only matters on failure. */
	CHECK(vmem_alloc(end, 0x20000, VM_NOSLEEP) == NULL);
	void *p = vmem_alloc(end, 0x1000, VM_NOSLEEP | VM_PANIC | VM_PUSHPAGE);
	CHECK(p != NULL);
	CHECK(((VM_NOSLEEP | VM_BESTFIT) & VM_KMFLAGS) == VM_NOSLEEP);
	vmem_kstat_t ks;
	vmem_get_kstat(end, &ks);
	CHECK(ks.fail == 1);
	CHECK(ks.mem_inuse == 0x5000);
	/*
	 * VM_ABORT: NULL at once, even with VM_SLEEP (which alone would wait
	 * here for ever). VM_MEMLOAD and VM_NORELOC, the illumos kernel's, are
	 * accepted and change nothing.
	 */
	CHECK(vmem_alloc(end, 0x20000, VM_SLEEP | VM_ABORT) == NULL);
	CHECK(vmem_xalloc(end, 0x1000, 0, 0, 0, P(0x1000), P(0x2000),
	    VM_SLEEP | VM_ABORT) == NULL);	/* lo holds the window */
	void *k = vmem_alloc(end, 0x1000, VM_SLEEP | VM_MEMLOAD | VM_NORELOC);
	CHECK(k != NULL);
	vmem_free(end, k, 0x1000);
	vmem_free(end, hi, 0x1000);
	vmem_free(end, lo, 0x1000);
	vmem_free(end, p, 0x1000);
	vmem_xfree(end, xhi, 0x2000);
	vmem_destroy(end);

	/* VM_ABORT through a quantum cache that needs a slab it cannot get. */
	vmem_t *qc = vmem_create("qcfull", P(0x1000), 0x1000, 0x100, NULL,
	    NULL, NULL, 0x100, VM_SLEEP);
	void *all = vmem_alloc(qc, 0x1000, VM_NOSLEEP);
	CHECK(all != NULL);
	CHECK(vmem_alloc(qc, 0x100, VM_SLEEP | VM_ABORT) == NULL);
	vmem_free(qc, all, 0x1000);
	vmem_destroy(qc);

	/* Creation flags that are accepted and have no effect here. */
	vmem_t *id = vmem_create("ident", P(1), 10, 1, NULL, NULL, NULL, 0,
	    VM_SLEEP | VMC_IDENTIFIER | VMC_POPULATOR);
	CHECK(vmem_alloc(id, 10, VM_NOSLEEP) == P(1));
	vmem_free(id, P(1), 10);
	vmem_destroy(id);
}

/* ---- vmem_xalloc / vmem_xfree ------------------------------------------ */

static void
test_xalloc(void)
{
	vmem_t *dma = vmem_create("dma", P(0x10000000), 0x10000000, 0x1000,
	    NULL, NULL, NULL, 0, VM_SLEEP);
	void *a = vmem_xalloc(dma, 0x2000, 0x4000, 0x1000, 0x10000, NULL,
	    P(0x18000000), VM_NOSLEEP);
	CHECK(a != NULL);
	CHECK(U(a) % 0x4000 == 0x1000);
	CHECK(U(a) / 0x10000 == (U(a) + 0x2000 - 1) / 0x10000);
	CHECK(U(a) + 0x2000 <= 0x18000000);
	void *b = vmem_xalloc(dma, 0x1000, 0, 0, 0, P(0x14000000), NULL,
	    VM_NOSLEEP | VM_BESTFIT);
	CHECK(U(b) >= 0x14000000);
	void *c = vmem_xalloc(dma, 0x1000, 0, 0, 0, a, P(U(a) + 0x1000),
	    VM_NOSLEEP);
	CHECK(c == NULL);	/* the only page in the window is taken */
	CHECK(vmem_contains(dma, a, 0x2000));
	vmem_xfree(dma, a, 0x2000);
	vmem_xfree(dma, b, 0x1000);
	CHECK(vmem_size(dma, VMEM_ALLOC) == 0);
	vmem_destroy(dma);
}

/*
 * Requests that do not fit fail softly, as in libumem: NULL under
 * VM_NOSLEEP, and the arena is untouched. Only argument errors abort.
 */
static void
test_soft_failures(void)
{
	vmem_t *vm = vmem_create("soft", P(0x100000), 0x100000, 0x1000,
	    NULL, NULL, NULL, 0, VM_SLEEP);
	CHECK(vm != NULL);
	void *keep = vmem_alloc(vm, 0x3000, VM_NOSLEEP);
	CHECK(keep != NULL);
	/* A window smaller than the request (a DMA probe below a limit). */
	CHECK(vmem_xalloc(vm, 0x4000, 0, 0, 0, P(0x180000), P(0x182000),
	    VM_NOSLEEP) == NULL);
	/* An empty and an inverted window. */
	CHECK(vmem_xalloc(vm, 0x1000, 0, 0, 0, P(0x180000), P(0x180000),
	    VM_NOSLEEP) == NULL);
	CHECK(vmem_xalloc(vm, 0x1000, 0, 0, 0, P(0x190000), P(0x180000),
	    VM_NOSLEEP) == NULL);
	/* A window outside every span. */
	CHECK(vmem_xalloc(vm, 0x1000, 0, 0, 0, P(0x400000), P(0x500000),
	    VM_NOSLEEP) == NULL);
	CHECK(vmem_xalloc(vm, 0x1000, 0, 0, 0, NULL, P(0x100000),
	    VM_NOSLEEP) == NULL);
	/* A window big enough, but with no aligned address inside it. */
	CHECK(vmem_xalloc(vm, 0x1000, 0x10000, 0, 0, P(0x181000),
	    P(0x18f000), VM_NOSLEEP) == NULL);
	/* More than the arena holds, under every policy. */
	CHECK(vmem_alloc(vm, 0x200000, VM_NOSLEEP) == NULL);
	CHECK(vmem_alloc(vm, 0x200000, VM_NOSLEEP | VM_BESTFIT) == NULL);
	CHECK(vmem_alloc(vm, 0x200000, VM_NOSLEEP | VM_FIRSTFIT) == NULL);
	CHECK(vmem_alloc(vm, 0x200000, VM_NOSLEEP | VM_NEXTFIT) == NULL);
	CHECK(vmem_xalloc(vm, 0x200000, 0, 0, 0, NULL, NULL, VM_NOSLEEP) ==
	    NULL);
	/* A size near the top of the address space. */
	CHECK(vmem_alloc(vm, SIZE_MAX - 0x100, VM_NOSLEEP) == NULL);
	CHECK(vmem_xalloc(vm, SIZE_MAX - 0x100, (size_t)1 << 40, 0, 0, NULL,
	    NULL, VM_NOSLEEP) == NULL);
	/* VM_ABORT fails softly even with VM_SLEEP (illumos' meaning). */
	CHECK(vmem_xalloc(vm, 0x4000, 0, 0, 0, P(0x180000), P(0x182000),
	    VM_SLEEP | VM_ABORT) == NULL);
	/* Nothing changed: the same window probe then succeeds elsewhere. */
	CHECK(vmem_size(vm, VMEM_ALLOC) == 0x3000);
	void *low = vmem_xalloc(vm, 0x4000, 0, 0, 0, P(0x180000), NULL,
	    VM_NOSLEEP);
	CHECK(U(low) == 0x180000);
	vmem_kstat_t ks;
	vmem_get_kstat(vm, &ks);
	CHECK(ks.fail == 14);
	vmem_xfree(vm, low, 0x4000);
	vmem_free(vm, keep, 0x3000);
	CHECK(vmem_size(vm, VMEM_ALLOC) == 0);
	vmem_destroy(vm);
}

/* ---- the process layer: heap, reap, update, lockup, extend ------------ */

static void
test_process(void)
{
	vmem_alloc_t *afunc = NULL;
	vmem_free_t *ffunc = NULL;
	vmem_t *heap = vmem_heap_arena(&afunc, &ffunc);
	CHECK(heap != NULL && afunc != NULL && ffunc != NULL);
	CHECK(vmem_heap_arena(NULL, NULL) == heap);	/* one heap */
	vmem_t *mem = vmem_create("mem", NULL, 0, 4096, afunc, ffunc, heap,
	    4 * 4096, VM_SLEEP);
	CHECK(mem != NULL);
	unsigned char *big = vmem_alloc(mem, 1 << 20, VM_SLEEP);
	unsigned char *small = vmem_alloc(mem, 4096, VM_SLEEP);
	CHECK(big != NULL && small != NULL);
	memset(big, 0x5a, 1 << 20);	/* real, writable memory */
	memset(small, 0xa5, 4096);
	CHECK(big[(1 << 20) - 1] == 0x5a && small[0] == 0xa5);
	CHECK(vmem_contains(heap, big, 1 << 20));
	vmem_free(mem, big, 1 << 20);
	vmem_free(mem, small, 4096);
	CHECK(vmem_size(mem, VMEM_ALLOC) > 0);	/* the small one's slab */
	vmem_reap();
	CHECK(vmem_size(mem, VMEM_ALLOC) == 0);
	vmem_update(NULL);
	vmem_lockup();
	vmem_release();
	vmem_destroy(mem);

	/* _vmem_extend_alloc: a new span, then one that grows it. */
	vmem_t *ext = vmem_create("ext", P(0x10000), 0x1000, 0x1000, NULL,
	    NULL, NULL, 0, VM_SLEEP);
	void *a = _vmem_extend_alloc(ext, P(0x20000), 0x2000, 0x1000,
	    VM_NOSLEEP);
	CHECK(U(a) == 0x20000);
	void *b = _vmem_extend_alloc(ext, P(0x11000), 0x1000, 0x1000,
	    VM_NOSLEEP);
	/* It grew the first span upwards; the allocation starts at the free
	 * segment now covering the new range, the old span's free page. */
	CHECK(U(b) == 0x10000);
	CHECK(vmem_size(ext, VMEM_ALLOC | VMEM_FREE) == 0x4000);
	vmem_free(ext, a, 0x1000);
	vmem_free(ext, b, 0x1000);
	vmem_destroy(ext);
}

/* ---- vmem_add, vmem_contains, vmem_size, VMEM_MAXFREE ----------------- */

static void
test_add_contains_size(void)
{
	vmem_t *vm = vmem_create("spans", NULL, 0, 0x1000, NULL, NULL, NULL, 0,
	    VM_SLEEP);
	CHECK(vmem_size(vm, VMEM_ALLOC | VMEM_FREE) == 0);
	CHECK(vmem_alloc(vm, 0x1000, VM_NOSLEEP) == NULL);
	CHECK(vmem_add(vm, P(0x1000), 0x1000, VM_SLEEP) == P(0x1000));
	CHECK(vmem_add(vm, P(0x10000), 0x4000, VM_NOSLEEP) == P(0x10000));
	CHECK(vmem_contains(vm, P(0x1000), 0x1000) == 1);
	CHECK(vmem_contains(vm, P(0x11000), 0x2000) == 1);
	CHECK(vmem_contains(vm, P(0x2000), 0x1000) == 0);
	CHECK(vmem_contains(vm, P(0x1000), 0x2000) == 0);
	CHECK(vmem_size(vm, VMEM_FREE) == 0x5000);
	CHECK(vmem_size(vm, VMEM_MAXFREE) == 0x4000);
	void *a = vmem_alloc(vm, 0x3000, VM_NOSLEEP);
	CHECK(U(a) == 0x10000);
	CHECK(vmem_size(vm, VMEM_ALLOC) == 0x3000);
	CHECK(vmem_size(vm, VMEM_FREE) == 0x2000);
	CHECK(vmem_size(vm, VMEM_MAXFREE) == 0x1000);
	vmem_kstat_t ks;
	vmem_get_kstat(vm, &ks);
	CHECK(ks.contains == 4 && ks.mem_total == 0x5000 && ks.alloc == 1);
	vmem_free(vm, a, 0x3000);
	vmem_destroy(vm);
}

/* ---- vmem_walk --------------------------------------------------------- */

static vmem_t *reentrant_arena;
static void *reentrant_got[4];
static int reentrant_calls;

static void
allocate_while_walking(void *arg, void *start, size_t size)
{
	(void) arg;
	(void) start;
	(void) size;
	if (reentrant_calls < 4)
		reentrant_got[reentrant_calls] =
		    vmem_alloc(reentrant_arena, 0x100, VM_NOSLEEP);
	reentrant_calls++;
}

static void
test_walk(void)
{
	vmem_t *vm = vmem_create("walk", P(0x1000), 0x1000, 0x100, NULL, NULL,
	    NULL, 0, VM_SLEEP);
	void *a = vmem_alloc(vm, 0x100, VM_NOSLEEP);
	struct record r = { .n = 0 };
	vmem_walk(vm, VMEM_ALLOC | VMEM_FREE | VMEM_SPAN, record_seg, &r);
	CHECK(r.n == 3);
	CHECK(r.segs[0].start == 0x1000 && r.segs[0].size == 0x1000);
	CHECK(r.segs[1].start == 0x1000 && r.segs[1].size == 0x100);
	CHECK(r.segs[2].start == 0x1100 && r.segs[2].size == 0xf00);
	r.n = 0;
	vmem_walk(vm, VMEM_ALLOC, record_seg, &r);
	CHECK(r.n == 1 && r.segs[0].start == U(a));
	r.n = 0;
	vmem_walk(vm, VMEM_FREE, record_seg, &r);
	CHECK(r.n == 1 && r.segs[0].start == 0x1100);
	r.n = 0;
	vmem_walk(vm, VMEM_ALLOC | VMEM_WALKER, record_seg, &r);
	CHECK(r.n == 0);

	/* VMEM_REENTRANT: the callback allocates from the arena it walks. */
	reentrant_arena = vm;
	vmem_walk(vm, VMEM_ALLOC | VMEM_REENTRANT, allocate_while_walking,
	    NULL);
	CHECK(reentrant_calls >= 1);
	int got = reentrant_calls < 4 ? reentrant_calls : 4;
	for (int i = 0; i < got; i++) {
		CHECK(reentrant_got[i] != NULL);
		vmem_free(vm, reentrant_got[i], 0x100);
	}
	vmem_free(vm, a, 0x100);
	CHECK(vmem_size(vm, VMEM_ALLOC) == 0);
	vmem_destroy(vm);
}

/* ---- VM_SLEEP blocks until a free --------------------------------------- */

struct sleeper {
	vmem_t *vm;
	void *got;
	volatile int done;
};

static void *
sleep_alloc(void *arg)
{
	struct sleeper *s = arg;
	s->got = vmem_alloc(s->vm, 0x1000, VM_SLEEP);
	s->done = 1;
	return NULL;
}

static void
test_sleep(void)
{
	vmem_t *vm = vmem_create("sleepy", P(0x1000), 0x1000, 0x1000, NULL,
	    NULL, NULL, 0, VM_SLEEP);
	void *a = vmem_alloc(vm, 0x1000, VM_SLEEP);
	CHECK(U(a) == 0x1000);
	CHECK(vmem_alloc(vm, 0x1000, VM_NOSLEEP) == NULL);
	struct sleeper s = { vm, NULL, 0 };
	pthread_t t;
	CHECK(pthread_create(&t, NULL, sleep_alloc, &s) == 0);
	usleep(200 * 1000);
	CHECK(!s.done);		/* still waiting: nothing was freed */
	vmem_free(vm, a, 0x1000);
	pthread_join(t, NULL);
	CHECK(s.done && U(s.got) == 0x1000);
	vmem_kstat_t ks;
	vmem_get_kstat(vm, &ks);
	CHECK(ks.wait >= 1);
	vmem_free(vm, s.got, 0x1000);
	vmem_destroy(vm);
}

/* ---- sources: nested arenas, C functions, misaligned spans, xcreate --- */

static int source_allocs, source_frees;

static void *
counting_alloc(vmem_t *src, size_t size, int vmflag)
{
	source_allocs++;
	return vmem_alloc(src, size, vmflag);
}

static void
counting_free(vmem_t *src, void *addr, size_t size)
{
	source_frees++;
	vmem_free(src, addr, size);
}

static size_t ximport_align;

static void *
enlarging_import(vmem_t *src, size_t *size, size_t align, int vmflag)
{
	ximport_align = align;
	*size = (*size + 0xffff) & ~(size_t)0xffff;	/* 64 KiB spans */
	return vmem_xalloc(src, *size, align, 0, 0, NULL, NULL, vmflag);
}

static void
test_sources(void)
{
	vmem_t *parent = vmem_create("parent", P(0x100000), 0x100000, 0x1000,
	    NULL, NULL, NULL, 0, VM_SLEEP);
	vmem_t *child = vmem_create("child", NULL, 0, 0x10, vmem_alloc,
	    vmem_free, parent, 0, VM_SLEEP);
	void *a = vmem_alloc(child, 0x30, VM_NOSLEEP);
	CHECK(a != NULL && vmem_contains(parent, a, 0x30));
	CHECK(vmem_size(parent, VMEM_ALLOC) == 0x1000);
	CHECK(vmem_size(child, VMEM_ALLOC | VMEM_FREE) == 0x1000);
	vmem_free(child, a, 0x30);
	CHECK(vmem_size(parent, VMEM_ALLOC) == 0);
	vmem_kstat_t ks;
	vmem_get_kstat(child, &ks);
	CHECK(ks.imports == 1 && ks.releases == 1 && ks.mem_import == 0);

	/* FreeBSD's limit: at most two pages imported. */
	vmem_set_limit(child, 0x2000);
	void *p1 = vmem_alloc(child, 0x1000, VM_NOSLEEP);
	void *p2 = vmem_alloc(child, 0x1000, VM_NOSLEEP);
	CHECK(p1 != NULL && p2 != NULL);
	CHECK(vmem_alloc(child, 0x1000, VM_NOSLEEP) == NULL);
	CHECK(vmem_alloc(child, 0x1000, VM_SLEEP | VM_ABORT) == NULL);
	vmem_set_limit(child, 0);
	void *p3 = vmem_alloc(child, 0x1000, VM_NOSLEEP);
	CHECK(p3 != NULL);
	vmem_free(child, p1, 0x1000);
	vmem_free(child, p2, 0x1000);
	vmem_free(child, p3, 0x1000);
	vmem_destroy(child);
	CHECK(vmem_size(parent, VMEM_ALLOC) == 0);

	/*
	 * Any C functions: counting wrappers, and a source that hands out
	 * 16-byte-aligned spans to a 4 KiB-quantum arena, which must carve an
	 * aligned span out of a larger import and give back the original.
	 */
	vmem_t *fine = vmem_create("fine", P(0x200000), 0x100000, 0x10, NULL,
	    NULL, NULL, 0, VM_SLEEP);
	void *pin = vmem_alloc(fine, 0x10, VM_NOSLEEP);
	CHECK(U(pin) == 0x200000);
	vmem_t *pages = vmem_create("pages", NULL, 0, 0x1000, counting_alloc,
	    counting_free, fine, 0, VM_SLEEP);
	void *pg = vmem_alloc(pages, 0x1000, VM_NOSLEEP);
	CHECK(pg != NULL && U(pg) % 0x1000 == 0);
	CHECK(vmem_contains(fine, pg, 0x1000));
	vmem_free(pages, pg, 0x1000);
	CHECK(source_allocs == 2 && source_frees == 2);
	CHECK(vmem_size(fine, VMEM_ALLOC) == 0x10);
	vmem_destroy(pages);
	vmem_free(fine, pin, 0x10);
	vmem_destroy(fine);

	/* vmem_xcreate: the import function enlarges and aligns. */
	vmem_t *x = vmem_xcreate("xchild", NULL, 0, 0x1000, enlarging_import,
	    vmem_xfree, parent, 0, VM_SLEEP | VMC_XALIGN);
	void *xa = vmem_alloc(x, 0x1000, VM_NOSLEEP);
	CHECK(xa != NULL);
	CHECK(vmem_size(x, VMEM_ALLOC | VMEM_FREE) == 0x10000);
	void *xb = vmem_xalloc(x, 0x1000, 0x20000, 0, 0, NULL, NULL,
	    VM_NOSLEEP);
	CHECK(xb != NULL && U(xb) % 0x20000 == 0);
	CHECK(ximport_align == 0x20000);
	vmem_free(x, xa, 0x1000);
	vmem_xfree(x, xb, 0x1000);
	CHECK(vmem_size(parent, VMEM_ALLOC) == 0);
	vmem_destroy(x);
	vmem_destroy(parent);
}

/* ---- quantum caches --------------------------------------------------- */

struct churn {
	vmem_t *vm;
	int ok;
};

static void *
churn(void *arg)
{
	struct churn *c = arg;
	void *held[16];
	c->ok = 1;
	for (int round = 0; round < 200; round++) {
		for (int i = 0; i < 16; i++) {
			held[i] = vmem_alloc(c->vm, (size_t)(i % 4 + 1) * 0x1000,
			    VM_SLEEP);
			if (held[i] == NULL)
				c->ok = 0;
		}
		for (int i = 0; i < 16; i++)
			vmem_free(c->vm, held[i], (size_t)(i % 4 + 1) * 0x1000);
	}
	return NULL;
}

static void
test_qcache(void)
{
	vmem_t *qc = vmem_create("qc", P(0x1000000), 0x1000000, 0x1000, NULL,
	    NULL, NULL, 0x4000, VM_SLEEP);
	vmem_kstat_t ks;
	vmem_get_kstat(qc, &ks);
	CHECK(ks.qcache_max == 0x4000);
	void *a = vmem_alloc(qc, 0x1000, VM_NOSLEEP);
	void *b = vmem_alloc(qc, 0x4000, VM_NOSLEEP);
	void *c = vmem_alloc(qc, 0x5000, VM_NOSLEEP);	/* arena */
	void *d = vmem_xalloc(qc, 0x1000, 0, 0, 0, NULL, NULL, VM_NOSLEEP);
	CHECK(a && b && c && d);
	vmem_get_kstat(qc, &ks);
	CHECK(ks.qcache_alloc == 2);
	CHECK(ks.qcache_slabs == 2);
	vmem_free(qc, a, 0x1000);
	vmem_free(qc, b, 0x4000);
	vmem_free(qc, c, 0x5000);
	vmem_xfree(qc, d, 0x1000);
	vmem_get_kstat(qc, &ks);
	CHECK(ks.qcache_free == 2 && ks.qcache_cached == 2);
	CHECK(vmem_size(qc, VMEM_ALLOC) > 0);	/* slabs held by caches */
	vmem_qcache_reap(qc);
	CHECK(vmem_size(qc, VMEM_ALLOC) == 0);

	/* Four threads through the caches. */
	pthread_t t[4];
	struct churn cs[4];
	for (int i = 0; i < 4; i++) {
		cs[i].vm = qc;
		CHECK(pthread_create(&t[i], NULL, churn, &cs[i]) == 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		CHECK(cs[i].ok);
	}
	vmem_arena_update(qc);
	vmem_qcache_reap(qc);
	CHECK(vmem_size(qc, VMEM_ALLOC) == 0);
	vmem_destroy(qc);

	vmem_t *none = vmem_create("noqc", P(0x1000), 0x100000, 0x1000, NULL,
	    NULL, NULL, 0x4000, VM_SLEEP | VMC_NO_QCACHE);
	vmem_get_kstat(none, &ks);
	CHECK(ks.qcache_max == 0);
	void *n = vmem_alloc(none, 0x1000, VM_NOSLEEP);
	CHECK(vmem_size(none, VMEM_ALLOC) == 0x1000);
	vmem_qcache_reap(none);	/* nothing to reap: a no-op */
	vmem_free(none, n, 0x1000);
	vmem_destroy(none);
}

/* ---- extensions: reclaim, roundup, kstat, update ---------------------- */

static vmem_t *reclaim_arena;
static void *reclaim_victim;
static int reclaim_calls;

static void
give_back(vmem_t *vm, int vmflag)
{
	reclaim_calls++;
	if (vm == reclaim_arena && reclaim_victim != NULL &&
	    (vmflag & VM_NOSLEEP)) {
		vmem_free(vm, reclaim_victim, 0x1000);
		reclaim_victim = NULL;
	}
}

static void
test_extensions(void)
{
	vmem_t *vm = vmem_create("reclaim", P(0x1000), 0x2000, 0x1000, NULL,
	    NULL, NULL, 0, VM_SLEEP);
	CHECK(vmem_roundup_size(vm, 1) == 0x1000);
	CHECK(vmem_roundup_size(vm, 0x1000) == 0x1000);
	CHECK(vmem_roundup_size(vm, 0x1001) == 0x2000);
	void *a = vmem_alloc(vm, 0x1000, VM_NOSLEEP);
	void *b = vmem_alloc(vm, 0x1000, VM_NOSLEEP);
	reclaim_arena = vm;
	reclaim_victim = b;
	vmem_set_reclaim(vm, give_back);
	void *c = vmem_alloc(vm, 0x1000, VM_NOSLEEP);
	CHECK(reclaim_calls == 1);
	CHECK(c == b);		/* the reclaimed page, after one retry */
	vmem_set_reclaim(vm, NULL);
	CHECK(vmem_alloc(vm, 0x1000, VM_NOSLEEP) == NULL);
	CHECK(reclaim_calls == 1);
	vmem_free(vm, a, 0x1000);
	vmem_free(vm, c, 0x1000);
	vmem_destroy(vm);

	/* Enough segments to grow the hash; vmem_arena_update rescales. */
	vmem_t *ids = vmem_create("many", P(1), 100000, 1, NULL, NULL, NULL, 0,
	    VM_SLEEP);
	for (uintptr_t i = 0; i < 5000; i++)
		CHECK(vmem_alloc(ids, 1, VM_NOSLEEP) == P(i + 1));
	vmem_arena_update(ids);
	vmem_kstat_t ks;
	vmem_get_kstat(ids, &ks);
	CHECK(ks.segments_allocated == 5000);
	CHECK(ks.hash_buckets >= 1024 && ks.rescales >= 1);
	CHECK(ks.tag_size > 0 && ks.tags_in_use > 5000);
	for (uintptr_t i = 0; i < 5000; i++)
		vmem_free(ids, P(i + 1), 1);
	vmem_arena_update(ids);
	vmem_destroy(ids);

	/* A leak is reported at destroy, not fatal (see the death tests). */
	vmem_t *leaky = vmem_create("leaky", P(0x1000), 0x1000, 0x10, NULL,
	    NULL, NULL, 0, VM_SLEEP);
	CHECK(vmem_alloc(leaky, 0x10, VM_NOSLEEP) != NULL);
	vmem_destroy(leaky);
}

int
main(void)
{
	test_policies();
	test_xalloc();
	test_soft_failures();
	test_process();
	test_add_contains_size();
	test_walk();
	test_sleep();
	test_sources();
	test_qcache();
	test_extensions();
	if (failures != 0) {
		fprintf(stderr, "test_vmem: %d check(s) failed\n", failures);
		return 1;
	}
	printf("test_vmem: all checks passed\n");
	return 0;
}
