/*
 * walk.c: print every segment of an arena with vmem_walk.
 *
 * Builds an arena with two spans, a few allocations and holes, then walks
 * it: once per segment type (so each line can say what it is), and once
 * with all types together, the way libumem's ::vmem_seg dcmd lists them.
 * The sizes seen by the walks must add up to what vmem_size reports.
 */
#include <stdint.h>
#include <stdio.h>

#include "vmem.h"

struct tally {
	const char *label;
	size_t bytes;
	int count;
};

static void
print_seg(void *arg, void *start, size_t size)
{
	struct tally *t = arg;
	printf("  %-5s [%#10lx, %#10lx)  %6zu bytes\n", t->label,
	    (unsigned long)(uintptr_t)start,
	    (unsigned long)((uintptr_t)start + size), size);
	t->bytes += size;
	t->count++;
}

int
main(void)
{
	vmem_t *vm = vmem_create("walkme", (void *)0x10000, 0x10000, 0x100,
	    NULL, NULL, NULL, 0, VM_SLEEP);
	if (vm == NULL || vmem_add(vm, (void *)0x40000, 0x4000, VM_SLEEP) ==
	    NULL)
		return 1;
	void *a = vmem_alloc(vm, 0x300, VM_NOSLEEP);
	void *b = vmem_alloc(vm, 0x1000, VM_NOSLEEP);
	void *c = vmem_alloc(vm, 0x200, VM_NOSLEEP);
	void *d = vmem_xalloc(vm, 0x800, 0, 0, 0, (void *)0x40000, NULL,
	    VM_NOSLEEP);
	vmem_free(vm, b, 0x1000);	/* a hole between a and c */

	struct tally span = { "span", 0, 0 }, alloc = { "alloc", 0, 0 },
	    free_ = { "free", 0, 0 }, all = { "seg", 0, 0 };
	printf("walkme, by type:\n");
	vmem_walk(vm, VMEM_SPAN, print_seg, &span);
	vmem_walk(vm, VMEM_ALLOC, print_seg, &alloc);
	vmem_walk(vm, VMEM_FREE, print_seg, &free_);
	printf("walkme, in arena order:\n");
	vmem_walk(vm, VMEM_SPAN | VMEM_ALLOC | VMEM_FREE, print_seg, &all);

	int bad = 0;
	if (alloc.bytes != vmem_size(vm, VMEM_ALLOC) || alloc.count != 3)
		bad = 1;
	if (free_.bytes != vmem_size(vm, VMEM_FREE))
		bad = 1;
	if (span.bytes != vmem_size(vm, VMEM_ALLOC | VMEM_FREE) ||
	    span.count != 2)
		bad = 1;
	if (all.count != span.count + alloc.count + free_.count)
		bad = 1;
	printf("walkme: %d spans (%zu bytes), %d allocated (%zu), %d free "
	    "(%zu)%s\n", span.count, span.bytes, alloc.count, alloc.bytes,
	    free_.count, free_.bytes, bad ? ": MISMATCH" : "");

	vmem_free(vm, a, 0x300);
	vmem_free(vm, c, 0x200);
	vmem_xfree(vm, d, 0x800);
	vmem_destroy(vm);
	return bad;
}
