/*
 * nested.c: arenas stacked on arenas.
 *
 * "va" hands out 4 KiB pages of a 256 MiB range. "objects" has a 16-byte
 * quantum and no span of its own: it imports whole pages from "va" with
 * vmem_alloc/vmem_free as its import functions (libumem's pattern), and
 * gives each page back as soon as nothing in it is allocated. "ids" stacks
 * a third level on "objects". The example checks that the spans flow down
 * and all the way back.
 */
#include <stdint.h>
#include <stdio.h>

#include "vmem.h"

#define N 1000

static int
expect(const char *what, size_t got, size_t want)
{
	if (got == want)
		return 0;
	fprintf(stderr, "nested: %s is %#zx, expected %#zx\n", what, got, want);
	return 1;
}

int
main(void)
{
	int bad = 0;
	vmem_t *va = vmem_create("va", (void *)0x10000000UL, 0x10000000UL,
	    0x1000, NULL, NULL, NULL, 0, VM_SLEEP);
	vmem_t *objects = vmem_create("objects", NULL, 0, 16, vmem_alloc,
	    vmem_free, va, 0, VM_SLEEP);
	vmem_t *ids = vmem_create("ids", NULL, 0, 16, vmem_alloc, vmem_free,
	    objects, 0, VM_SLEEP);
	if (va == NULL || objects == NULL || ids == NULL)
		return 1;

	static void *obj[N];
	for (int i = 0; i < N; i++) {
		obj[i] = vmem_alloc(objects, 48, VM_SLEEP);
		if (!vmem_contains(va, obj[i], 48))
			bad = 1;
	}
	void *id = vmem_alloc(ids, 16, VM_SLEEP);
	bad |= !vmem_contains(objects, id, 16) || !vmem_contains(va, id, 16);

	vmem_kstat_t ks;
	vmem_get_kstat(objects, &ks);
	printf("nested: %d objects of 48 bytes in %lu imported pages "
	    "(%lu bytes from va)\n", N, (unsigned long)ks.imports,
	    (unsigned long)ks.mem_import);
	bad |= expect("va in use", vmem_size(va, VMEM_ALLOC),
	    (size_t)ks.mem_import);
	bad |= expect("objects in use", vmem_size(objects, VMEM_ALLOC),
	    N * 48 + 16 /* what ids imported: one quantum of objects */);

	/* Free every other object: pages still partly used stay. */
	for (int i = 0; i < N; i += 2)
		vmem_free(objects, obj[i], 48);
	size_t half = vmem_size(va, VMEM_ALLOC);
	for (int i = 1; i < N; i += 2)
		vmem_free(objects, obj[i], 48);
	vmem_free(ids, id, 16);

	vmem_get_kstat(objects, &ks);
	printf("nested: after freeing half, va held %#zx; now %#zx "
	    "(%lu spans released)\n", half, vmem_size(va, VMEM_ALLOC),
	    (unsigned long)ks.releases);
	bad |= expect("objects total", vmem_size(objects,
	    VMEM_ALLOC | VMEM_FREE), 0);
	bad |= expect("va in use", vmem_size(va, VMEM_ALLOC), 0);
	bad |= expect("releases", (size_t)ks.releases, (size_t)ks.imports);

	vmem_destroy(ids);
	vmem_destroy(objects);
	vmem_destroy(va);
	return bad;
}
