/*
 * death.c: every bad input aborts the process with a message naming the
 * call, the arena and the arguments (libumem's umem_panic behaviour).
 *
 * Each case runs in a forked child whose stderr goes to a pipe; the parent
 * checks how the child ended (SIGABRT, a normal exit, or a hang that the
 * child's 2-second watchdog alarm ends) and that the message holds the
 * expected pieces. A leak at vmem_destroy, and the soft failures (NULL),
 * must NOT abort. Prints one line per case; exits 1 if any case is wrong.
 *
 * Cases marked with a bug are EXPECTED TO FAIL: they state the outcome the
 * library should have and does not have today. They print "xfail" and do
 * not fail the run; once the bug is fixed they print "XPASS" and fail it,
 * so that the mark is taken off. docs/testing.md lists them.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmem.h"

#define P(x) ((void *)(uintptr_t)(x))

static vmem_t *
arena(void)
{
	return vmem_create("victim", P(0x1000), 0x10000, 0x1000, NULL, NULL,
	    NULL, 0, VM_SLEEP);
}

static void
null_arena(void)
{
	(void) vmem_alloc(NULL, 16, VM_NOSLEEP);
}

static void
free_not_allocated(void)
{
	vmem_free(arena(), P(0x3000), 0x1000);
}

static void
free_wrong_size(void)
{
	vmem_t *vm = arena();
	void *a = vmem_alloc(vm, 0x2000, VM_NOSLEEP);
	vmem_free(vm, a, 0x1000);
}

static void
xfree_twice(void)
{
	vmem_t *vm = arena();
	void *a = vmem_xalloc(vm, 0x1000, 0, 0, 0, NULL, NULL, VM_NOSLEEP);
	vmem_xfree(vm, a, 0x1000);
	vmem_xfree(vm, a, 0x1000);
}

static void
qcache_free_foreign(void)
{
	vmem_t *vm = vmem_create("cached", P(0x100000), 0x100000, 0x1000,
	    NULL, NULL, NULL, 0x4000, VM_SLEEP);
	(void) vmem_alloc(vm, 0x1000, VM_NOSLEEP);
	vmem_free(vm, P(0x1f0000), 0x1000);
}

static vmem_t *
qcached(void)
{
	/* quantum 0x10, quantum caches up to 0x40 */
	return vmem_create("qc", P(0x100000), 0x100000, 0x10, NULL, NULL,
	    NULL, 0x40, VM_SLEEP);
}

static void
qcache_double_free(void)
{
	vmem_t *vm = qcached();
	void *a = vmem_alloc(vm, 0x10, VM_NOSLEEP);
	vmem_free(vm, a, 0x10);
	vmem_free(vm, a, 0x10);
}

static void
qcache_free_misaligned(void)
{
	vmem_t *vm = qcached();
	void *a = vmem_alloc(vm, 0x20, VM_NOSLEEP);
	vmem_free(vm, (char *)a + 0x10, 0x20);
}

static void
phase_not_below_align(void)
{
	(void) vmem_xalloc(arena(), 0x1000, 0x2000, 0x2000, 0, NULL, NULL,
	    VM_NOSLEEP);
}

static void
align_not_quantum_multiple(void)
{
	(void) vmem_xalloc(arena(), 0x1000, 0x800, 0, 0, NULL, NULL,
	    VM_NOSLEEP);
}

static void
add_not_quantum_multiple(void)
{
	(void) vmem_add(arena(), P(0x100800), 0x1000, VM_SLEEP);
}

static void
create_not_quantum_multiple(void)
{
	(void) vmem_create("crooked", P(0x1000), 0x1800, 0x1000, NULL, NULL,
	    NULL, 0, VM_SLEEP);
}

static void
quantum_not_power_of_two(void)
{
	(void) vmem_create("odd", P(0x1000), 0x3000, 0x3000, NULL, NULL, NULL,
	    0, VM_SLEEP);
}

static void
overconstrained(void)
{
	(void) vmem_xalloc(arena(), 0x5000, 0x2000, 0, 0x4000, NULL, NULL,
	    VM_NOSLEEP);
}

static void
panic_on_failure(void)
{
	(void) vmem_alloc(arena(), 0x100000, VM_NOSLEEP | VM_PANIC);
}

/* VM_ABORT makes VM_SLEEP fail at once; VM_PANIC then aborts. */
static void
abort_flag_with_panic(void)
{
	(void) vmem_alloc(arena(), 0x100000, VM_SLEEP | VM_ABORT | VM_PANIC);
}

static void
window_never_fits_panic(void)
{
	(void) vmem_xalloc(arena(), 0x4000, 0, 0, 0, P(0x2000), P(0x4000),
	    VM_NOSLEEP | VM_PANIC);
}

static void
window_never_fits_sleep(void)
{
	(void) vmem_xalloc(arena(), 0x4000, 0, 0, 0, P(0x2000), P(0x4000),
	    VM_SLEEP);
}

static void
destroy_heap(void)
{
	vmem_destroy(vmem_heap_arena(NULL, NULL));
}

static void
init_after_heap(void)
{
	(void) vmem_heap_arena(NULL, NULL);
	(void) vmem_init(NULL, 0, NULL, NULL, "heap2", P(0x1000), 0x10000,
	    0x1000, NULL, NULL);
}

static void
add_null(void)
{
	(void) vmem_add(arena(), NULL, 0x1000, VM_SLEEP);
}

static void
add_overlap(void)
{
	(void) vmem_add(arena(), P(0x8000), 0x10000, VM_SLEEP);
}

static void
destroy_twice(void)
{
	vmem_t *vm = arena();
	vmem_destroy(vm);
	vmem_destroy(vm);
}

static void
walk_null_callback(void)
{
	vmem_walk(arena(), VMEM_ALLOC, NULL, NULL);
}

static void
maxfree_combined(void)
{
	(void) vmem_size(arena(), VMEM_MAXFREE | VMEM_FREE);
}

static void
free_twice(void)
{
	vmem_t *vm = arena();
	void *a = vmem_alloc(vm, 0x1000, VM_NOSLEEP);
	vmem_free(vm, a, 0x1000);
	vmem_free(vm, a, 0x1000);
}

static void
free_misaligned(void)
{
	vmem_t *vm = arena();
	char *a = vmem_alloc(vm, 0x2000, VM_NOSLEEP);
	vmem_free(vm, a + 0x10, 0x2000);
}

static void
alloc_zero(void)
{
	(void) vmem_alloc(arena(), 0, VM_NOSLEEP);
}

static void
nocross_below_size(void)
{
	(void) vmem_xalloc(arena(), 0x4000, 0, 0, 0x2000, NULL, NULL,
	    VM_NOSLEEP);
}

static void
min_above_max_nosleep(void)
{
	/* No address can satisfy it: a soft failure, like any other. */
	if (vmem_xalloc(arena(), 0x1000, 0, 0, 0, P(0x8000), P(0x4000),
	    VM_NOSLEEP) != NULL)
		abort();
}

static void
min_above_max_sleep(void)
{
	(void) vmem_xalloc(arena(), 0x1000, 0, 0, 0, P(0x8000), P(0x4000),
	    VM_SLEEP);
}

static void
alloc_size_max(void)
{
	vmem_t *vm = arena();
	if (vmem_alloc(vm, SIZE_MAX, VM_NOSLEEP) != NULL ||
	    vmem_alloc(vm, SIZE_MAX - 0xfff, VM_NOSLEEP) != NULL ||
	    vmem_xalloc(vm, SIZE_MAX & ~(size_t)0xfff, 0, 0, 0, NULL, NULL,
	    VM_NOSLEEP) != NULL)
		abort();
}

static void
add_wraps(void)
{
	(void) vmem_add(arena(), P(0x100000), SIZE_MAX & ~(size_t)0xfff,
	    VM_SLEEP);
}

static void
nocross_size_near_max(void)
{
	(void) vmem_xalloc(arena(), SIZE_MAX & ~(size_t)0xfff, 0, 0, 0x100000,
	    NULL, NULL, VM_NOSLEEP);
}

static void
destroy_source_first(void)
{
	vmem_t *parent = vmem_create("parent", P(0x100000), 0x100000, 0x1000,
	    NULL, NULL, NULL, 0, VM_SLEEP);
	vmem_t *child = vmem_create("child", NULL, 0, 0x10, vmem_alloc,
	    vmem_free, parent, 0, VM_SLEEP);
	(void) vmem_alloc(child, 0x40, VM_NOSLEEP);
	/* Refused: the child still imports from it. */
	vmem_destroy(parent);
	/* Not reached if refused; the child is not touched (it would be a
	 * use after free). */
	_exit(0);
}

static vmem_t *walked;

static void
call_back_in(void *arg, void *start, size_t size)
{
	(void) arg; (void) start; (void) size;
	(void) vmem_alloc(walked, 0x1000, VM_NOSLEEP);
}

static void
locked_walk_reenters(void)
{
	walked = arena();
	vmem_walk(walked, VMEM_ALLOC | VMEM_FREE, call_back_in, NULL);
}

static void
qcache_free_twice(void)
{
	vmem_t *vm = qcached();
	void *a = vmem_alloc(vm, 0x10, VM_NOSLEEP);
	vmem_free(vm, a, 0x10);
	vmem_free(vm, a, 0x10);
}

static void
qcache_free_wrong_cache(void)
{
	vmem_t *vm = qcached();
	/* The 0x20 cache's slabs on both sides of the 0x10 cache's slab. */
	(void) vmem_alloc(vm, 0x20, VM_NOSLEEP);
	void *a = vmem_alloc(vm, 0x10, VM_NOSLEEP);
	for (int i = 0; i < 8; i++)
		(void) vmem_alloc(vm, 0x20, VM_NOSLEEP);
	vmem_free(vm, a, 0x20);
}

static void
leak_is_reported(void)
{
	vmem_t *vm = arena();
	(void) vmem_alloc(vm, 0x3000, VM_NOSLEEP);
	vmem_destroy(vm);
}

/* How a case must end. */
enum end { EXITS, ABORTS, HANGS };

struct death {
	const char *name;
	void (*run)(void);
	enum end end;
	const char *expect[4];
	/* Non-NULL: expected to fail today, because of this bug. */
	const char *bug;
};

static const struct death cases[] = {
	{ "NULL arena", null_arena, ABORTS,
	    { "vmem panic: vmem_alloc(NULL", "size 16", "NULL arena" }, NULL },
	{ "free of an address not allocated", free_not_allocated, 1,
	    { "vmem_free(0x", "'victim'", "0x3000, size 4096",
	      "not allocated" }, NULL },
	{ "free with the wrong size", free_wrong_size, 1,
	    { "vmem_free(", "'victim'", "size 4096",
	      "wrong size (allocated with size 8192)" }, NULL },
	{ "xfree twice", xfree_twice, 1,
	    { "vmem_xfree(", "'victim'", "bad free" }, NULL },
	{ "quantum-cache free of a foreign address", qcache_free_foreign, 1,
	    { "vmem_free(", "'cached'", "0x1f0000", "bad free" }, NULL },
	{ "quantum-cache double free", qcache_double_free, 1,
	    { "vmem_free(", "'qc'", "size 16",
	      "object is not allocated (double free?)" }, NULL },
	{ "quantum-cache free of a misaligned address", qcache_free_misaligned,
	    1, { "vmem_free(", "'qc'", "size 32",
	      "not the start of an object" }, NULL },
	{ "phase >= align", phase_not_below_align, 1,
	    { "vmem_xalloc(", "'victim'", "phase 0x2000",
	      "is not below align 0x2000" }, NULL },
	{ "align not a quantum multiple", align_not_quantum_multiple, 1,
	    { "vmem_xalloc(", "'victim'", "align 0x800",
	      "not a multiple of the quantum" }, NULL },
	{ "vmem_add not a quantum multiple", add_not_quantum_multiple, 1,
	    { "vmem_add(", "'victim'", "0x100800",
	      "not a multiple of the quantum" }, NULL },
	{ "vmem_create span not a quantum multiple",
	    create_not_quantum_multiple, 1,
	    { "vmem_create(\"crooked\"", "size 6144",
	      "not a multiple of the quantum" }, NULL },
	{ "quantum not a power of two", quantum_not_power_of_two, 1,
	    { "vmem_create(\"odd\"", "quantum 12288", "power of two" }, NULL },
	{ "over-constrained xalloc", overconstrained, 1,
	    { "vmem_xalloc(", "'victim'", "nocross 0x4000",
	      "over-constrained" }, NULL },
	{ "VM_PANIC failure", panic_on_failure, 1,
	    { "vmem_alloc(", "'victim'", "vmflag 0x3",
	      "cannot satisfy mandatory allocation" }, NULL },
	{ "VM_PANIC xalloc whose window cannot hold it",
	    window_never_fits_panic, 1,
	    { "vmem_xalloc(", "'victim'", "cannot satisfy mandatory allocation",
	      "window [0x2000, 0x4000)" }, NULL },
	{ "VM_SLEEP xalloc whose window cannot hold it (would sleep forever)",
	    window_never_fits_sleep, 1,
	    { "vmem_xalloc(", "'victim'", "can never be satisfied",
	      "window [0x2000, 0x4000)" }, NULL },
	{ "VM_ABORT | VM_PANIC failure", abort_flag_with_panic, 1,
	    { "vmem_alloc(", "'victim'", "vmflag 0x2002",
	      "cannot satisfy mandatory allocation" }, NULL },
	{ "vmem_destroy of the heap", destroy_heap, 1,
	    { "vmem_destroy(0x", "never destroyed" }, NULL },
	{ "vmem_init after vmem_heap_arena", init_after_heap, 1,
	    { "vmem_init", "the heap exists already" }, NULL },
	{ "vmem_add of NULL", add_null, 1,
	    { "vmem_add(", "'victim'", "bad arguments" }, NULL },
	{ "vmem_add overlapping a span", add_overlap, 1,
	    { "vmem_add(", "'victim'", "overlaps" }, NULL },
	{ "vmem_destroy twice", destroy_twice, 1,
	    { "vmem_destroy(0x", "not a live arena" }, NULL },
	{ "vmem_walk with a NULL callback", walk_null_callback, 1,
	    { "vmem_walk(", "'victim'", "NULL callback" }, NULL },
	{ "VMEM_MAXFREE combined", maxfree_combined, 1,
	    { "vmem_size(", "VMEM_MAXFREE cannot be combined" }, NULL },
	{ "leak at vmem_destroy (reported, not fatal)", leak_is_reported, 0,
	    { "vmem_destroy('victim'): leaked 12288 bytes" }, NULL },
	{ "double free", free_twice, ABORTS,
	    { "vmem_free(", "'victim'", "not allocated" }, NULL },
	{ "free of a misaligned address", free_misaligned, ABORTS,
	    { "vmem_free(", "'victim'", "size 8192", "not allocated" }, NULL },
	{ "vmem_alloc of size 0", alloc_zero, ABORTS,
	    { "vmem_alloc(", "'victim'", "size 0", "size is zero" }, NULL },
	{ "nocross smaller than the size", nocross_below_size, ABORTS,
	    { "vmem_xalloc(", "nocross 0x2000", "over-constrained" }, NULL },
	{ "min above max, VM_NOSLEEP (NULL, not fatal)",
	    min_above_max_nosleep, EXITS, { NULL }, NULL },
	{ "min above max, VM_SLEEP (would sleep forever)", min_above_max_sleep,
	    ABORTS, { "vmem_xalloc(", "can never be satisfied" }, NULL },
	{ "sizes near SIZE_MAX (NULL, not fatal)", alloc_size_max, EXITS,
	    { NULL }, NULL },
	{ "vmem_add wrapping past the top", add_wraps, ABORTS,
	    { "vmem_add(", "'victim'", "wraps" }, NULL },
	{ "nocross xalloc of a size near SIZE_MAX", nocross_size_near_max,
	    ABORTS, { "vmem_xalloc(", "over-constrained" }, NULL },
	{ "locked walk whose callback calls the arena (deadlocks, as libumem)",
	    locked_walk_reenters, HANGS, { NULL }, NULL },
	{ "destroying a source before its child", destroy_source_first,
	    ABORTS, { "vmem_destroy(", "'parent'", "1 arena still imports" },
	    NULL },
	{ "double free of a quantum-cached size", qcache_free_twice, ABORTS,
	    { "vmem_free(", "'qc'", "bad free" }, NULL },
	{ "wrong-size free into another quantum cache", qcache_free_wrong_cache,
	    ABORTS, { "vmem_free(", "'qc'", "bad free" }, NULL },
};

static int
run_case(const struct death *d)
{
	int fds[2];
	if (pipe(fds) != 0) {
		perror("pipe");
		return 0;
	}
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		dup2(fds[1], STDERR_FILENO);
		/* A case that hangs is ended by SIGALRM. */
		alarm(2);
		d->run();
		_exit(0);
	}
	close(fds[1]);
	char out[4096];
	size_t len = 0;
	ssize_t n;
	while ((n = read(fds[0], out + len, sizeof (out) - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = '\0';
	close(fds[0]);
	int status;
	waitpid(pid, &status, 0);

	int ok;
	switch (d->end) {
	case ABORTS:
		ok = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
		break;
	case HANGS:
		ok = WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM;
		break;
	default:
		ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	}
	for (int i = 0; i < 4 && d->expect[i] != NULL; i++) {
		if (strstr(out, d->expect[i]) == NULL) {
			if (d->bug == NULL)
				fprintf(stderr, "  missing \"%s\"\n",
				    d->expect[i]);
			ok = 0;
		}
	}
	if (d->bug != NULL) {
		printf("%s %s\n", ok ? "XPASS" : "xfail", d->name);
		printf("  %s: %s\n", ok ? "fixed? take the mark off" :
		    "expected to fail, bug", d->bug);
		if (getenv("DEATH_VERBOSE") != NULL)
			printf("  stderr: %s", out);
		return ok ? 0 : 2;
	}
	printf("%s %s\n", ok ? "ok  " : "FAIL", d->name);
	if (!ok || getenv("DEATH_VERBOSE") != NULL)
		printf("  stderr: %s", out);
	return ok;
}

int
main(void)
{
	int failed = 0, xfailed = 0;
	size_t n = sizeof (cases) / sizeof (cases[0]);
	for (size_t i = 0; i < n; i++) {
		int r = run_case(&cases[i]);
		if (r == 2)
			xfailed++;
		else
			failed += !r;
	}
	printf("death: %zu cases, %d failed, %d expected to fail (known bugs)\n",
	    n, failed, xfailed);
	return failed != 0;
}
