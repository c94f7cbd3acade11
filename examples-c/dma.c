/*
 * dma.c: a DMA-window allocator for a device with 32-bit addressing.
 *
 * The arena manages 8 GiB of physical address space in 4 KiB pages. The
 * device can only reach addresses below 4 GiB, needs its buffers aligned to
 * their own power-of-two size class (at least 4 KiB), and its scatter
 * engine cannot cross a 1 MiB boundary within one buffer. vmem_xalloc
 * expresses all three constraints; the example allocates windows of many
 * sizes, checks every constraint on every window, and frees them with
 * vmem_xfree.
 */
#include <stdint.h>
#include <stdio.h>

#include "vmem.h"

#if UINTPTR_MAX <= 0xffffffffu
int
main(void)
{
	printf("dma: needs a 64-bit address space; skipped\n");
	return 0;
}
#else

#define PAGE 0x1000UL
#define BELOW_4G 0x100000000UL
#define NOCROSS 0x100000UL	/* 1 MiB */
#define NWIN 200

static size_t
align_for(size_t size)
{
	size_t a = PAGE;
	while (a < size && a < NOCROSS)
		a <<= 1;
	return a;
}

int
main(void)
{
	vmem_t *phys = vmem_create("physmem", (void *)0x100000UL,
	    0x200000000UL - 0x100000UL, PAGE, NULL, NULL, NULL, 0, VM_SLEEP);
	if (phys == NULL)
		return 1;

	void *win[NWIN];
	size_t len[NWIN];
	int bad = 0;
	for (int i = 0; i < NWIN; i++) {
		len[i] = PAGE * (size_t)(1 + (i * 37) % 64);	/* 4..256 KiB */
		size_t align = align_for(len[i]);
		/* Half from the top of the window, as a driver keeping low
		 * memory for other devices would. */
		int flags = VM_NOSLEEP | ((i & 1) ? VM_ENDALLOC : 0);
		win[i] = vmem_xalloc(phys, len[i], align, 0, NOCROSS, NULL,
		    (void *)BELOW_4G, flags);
		uintptr_t a = (uintptr_t)win[i];
		if (win[i] == NULL || a % align != 0 ||
		    a / NOCROSS != (a + len[i] - 1) / NOCROSS ||
		    a + len[i] > BELOW_4G) {
			fprintf(stderr, "dma: bad window %p (+%#zx, align %#zx)\n",
			    win[i], len[i], align);
			bad = 1;
		}
	}
	uintptr_t lowest = UINTPTR_MAX, highest = 0;
	for (int i = 0; i < NWIN; i++) {
		uintptr_t a = (uintptr_t)win[i];
		if (a < lowest)
			lowest = a;
		if (a + len[i] > highest)
			highest = a + len[i];
	}
	printf("dma: %d windows in [%#lx, %#lx), all aligned, none crossing "
	    "1 MiB, all below 4 GiB\n", NWIN, (unsigned long)lowest,
	    (unsigned long)highest);

	/* A window that cannot exist below 4 GiB once it is all taken. */
	void *hog = vmem_xalloc(phys, BELOW_4G - 0x100000UL - 0x1000000UL,
	    0, 0, 0, (void *)0x1000000UL, (void *)BELOW_4G, VM_NOSLEEP);
	if (hog != NULL) {
		fprintf(stderr, "dma: the 4 GiB window had no room for that\n");
		bad = 1;
	}
	for (int i = 0; i < NWIN; i++)
		vmem_xfree(phys, win[i], len[i]);
	if (vmem_size(phys, VMEM_ALLOC) != 0)
		bad = 1;
	vmem_destroy(phys);
	return bad;
}
#endif
