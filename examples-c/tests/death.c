/*
 * death.c: every bad input aborts the process with a message naming the
 * call, the arena and the arguments (libumem's umem_panic behaviour).
 *
 * Each case runs in a forked child whose stderr goes to a pipe; the parent
 * checks that the child died of SIGABRT and that the message holds the
 * expected pieces. A leak at vmem_destroy is the one case that must NOT
 * abort. Prints one line per case; exits 1 if any case is wrong.
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
leak_is_reported(void)
{
	vmem_t *vm = arena();
	(void) vmem_alloc(vm, 0x3000, VM_NOSLEEP);
	vmem_destroy(vm);
}

struct death {
	const char *name;
	void (*run)(void);
	int aborts;
	const char *expect[4];
};

static const struct death cases[] = {
	{ "NULL arena", null_arena, 1,
	    { "vmem panic: vmem_alloc(NULL", "size 16", "NULL arena" } },
	{ "free of an address not allocated", free_not_allocated, 1,
	    { "vmem_free(0x", "'victim'", "0x3000, size 4096",
	      "not allocated" } },
	{ "free with the wrong size", free_wrong_size, 1,
	    { "vmem_free(", "'victim'", "size 4096",
	      "wrong size (allocated with size 8192)" } },
	{ "xfree twice", xfree_twice, 1,
	    { "vmem_xfree(", "'victim'", "bad free" } },
	{ "quantum-cache free of a foreign address", qcache_free_foreign, 1,
	    { "vmem_free(", "'cached'", "0x1f0000", "bad free" } },
	{ "quantum-cache double free", qcache_double_free, 1,
	    { "vmem_free(", "'qc'", "size 16",
	      "object is not allocated (double free?)" } },
	{ "quantum-cache free of a misaligned address", qcache_free_misaligned,
	    1, { "vmem_free(", "'qc'", "size 32",
	      "not the start of an object" } },
	{ "phase >= align", phase_not_below_align, 1,
	    { "vmem_xalloc(", "'victim'", "phase 0x2000",
	      "is not below align 0x2000" } },
	{ "align not a quantum multiple", align_not_quantum_multiple, 1,
	    { "vmem_xalloc(", "'victim'", "align 0x800",
	      "not a multiple of the quantum" } },
	{ "vmem_add not a quantum multiple", add_not_quantum_multiple, 1,
	    { "vmem_add(", "'victim'", "0x100800",
	      "not a multiple of the quantum" } },
	{ "vmem_create span not a quantum multiple",
	    create_not_quantum_multiple, 1,
	    { "vmem_create(\"crooked\"", "size 6144",
	      "not a multiple of the quantum" } },
	{ "quantum not a power of two", quantum_not_power_of_two, 1,
	    { "vmem_create(\"odd\"", "quantum 12288", "power of two" } },
	{ "over-constrained xalloc", overconstrained, 1,
	    { "vmem_xalloc(", "'victim'", "nocross 0x4000",
	      "over-constrained" } },
	{ "VM_PANIC failure", panic_on_failure, 1,
	    { "vmem_alloc(", "'victim'", "vmflag 0x3",
	      "cannot satisfy mandatory allocation" } },
	{ "VM_PANIC xalloc whose window cannot hold it",
	    window_never_fits_panic, 1,
	    { "vmem_xalloc(", "'victim'", "cannot satisfy mandatory allocation",
	      "window [0x2000, 0x4000)" } },
	{ "VM_SLEEP xalloc whose window cannot hold it (would sleep forever)",
	    window_never_fits_sleep, 1,
	    { "vmem_xalloc(", "'victim'", "can never be satisfied",
	      "window [0x2000, 0x4000)" } },
	{ "VM_ABORT | VM_PANIC failure", abort_flag_with_panic, 1,
	    { "vmem_alloc(", "'victim'", "vmflag 0x2002",
	      "cannot satisfy mandatory allocation" } },
	{ "vmem_destroy of the heap", destroy_heap, 1,
	    { "vmem_destroy(0x", "never destroyed" } },
	{ "vmem_init after vmem_heap_arena", init_after_heap, 1,
	    { "vmem_init", "the heap exists already" } },
	{ "vmem_add of NULL", add_null, 1,
	    { "vmem_add(", "'victim'", "bad arguments" } },
	{ "vmem_add overlapping a span", add_overlap, 1,
	    { "vmem_add(", "'victim'", "overlaps" } },
	{ "vmem_destroy twice", destroy_twice, 1,
	    { "vmem_destroy(0x", "not a live arena" } },
	{ "vmem_walk with a NULL callback", walk_null_callback, 1,
	    { "vmem_walk(", "'victim'", "NULL callback" } },
	{ "VMEM_MAXFREE combined", maxfree_combined, 1,
	    { "vmem_size(", "VMEM_MAXFREE cannot be combined" } },
	{ "leak at vmem_destroy (reported, not fatal)", leak_is_reported, 0,
	    { "vmem_destroy('victim'): leaked 12288 bytes" } },
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

	int ok = d->aborts ?
	    (WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT) :
	    (WIFEXITED(status) && WEXITSTATUS(status) == 0);
	for (int i = 0; i < 4 && d->expect[i] != NULL; i++) {
		if (strstr(out, d->expect[i]) == NULL) {
			fprintf(stderr, "  missing \"%s\"\n", d->expect[i]);
			ok = 0;
		}
	}
	printf("%s %s\n", ok ? "ok  " : "FAIL", d->name);
	if (!ok || getenv("DEATH_VERBOSE") != NULL)
		printf("  stderr: %s", out);
	return ok;
}

int
main(void)
{
	int failed = 0;
	size_t n = sizeof (cases) / sizeof (cases[0]);
	for (size_t i = 0; i < n; i++)
		failed += !run_case(&cases[i]);
	printf("death: %zu cases, %d failed\n", n, failed);
	return failed != 0;
}
