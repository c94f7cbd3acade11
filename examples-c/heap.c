/*
 * heap.c: arenas over the process heap, with real memory.
 *
 * vmem_heap_arena() returns the heap and the two functions that hand out
 * committed memory from it. An arena created with them as its import and
 * release functions gets writable memory; here, a buffer pool of 64 KiB
 * buffers whose memory is written and checked, and a quantum-cached arena
 * of small records. Everything goes back at the end.
 */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <sys/vmem.h>

int
main(void)
{
	vmem_alloc_t *afunc;
	vmem_free_t *ffunc;
	vmem_t *heap = vmem_heap_arena(&afunc, &ffunc);
	assert(heap != NULL && afunc != NULL && ffunc != NULL);

	/* 64 KiB buffers, imported from the heap in 1 MiB spans. */
	vmem_t *buffers = vmem_create("buffers", NULL, 0, 4096, afunc, ffunc,
	    heap, 0, VM_SLEEP);
	char *bufs[32];
	for (int i = 0; i < 32; i++) {
		bufs[i] = vmem_alloc(buffers, 65536, VM_SLEEP);
		memset(bufs[i], 'a' + i % 26, 65536);
	}
	for (int i = 0; i < 32; i++) {
		for (size_t j = 0; j < 65536; j += 4096)
			assert(bufs[i][j] == 'a' + i % 26);
		vmem_free(buffers, bufs[i], 65536);
	}

	/* Small records through quantum caches, over the same heap. */
	vmem_t *records = vmem_create("records", NULL, 0, 64, afunc, ffunc,
	    heap, 8 * 64, VM_SLEEP);
	uint64_t *rec[1000];
	for (int i = 0; i < 1000; i++) {
		rec[i] = vmem_alloc(records, 64 * (1 + i % 8), VM_SLEEP);
		rec[i][0] = (uint64_t)i;
	}
	for (int i = 0; i < 1000; i++) {
		assert(rec[i][0] == (uint64_t)i);
		vmem_free(records, rec[i], 64 * (1 + i % 8));
	}
	vmem_reap();	/* the caches' slabs go back to `records` */
	assert(vmem_size(records, VMEM_ALLOC) == 0);
	assert(vmem_size(buffers, VMEM_ALLOC) == 0);

	vmem_destroy(records);
	vmem_destroy(buffers);
	vmem_update(NULL);
	printf("heap: 32 buffers of 64 KiB and 1000 records written, "
	    "checked and freed over '%s'\n", "heap");
	return 0;
}
