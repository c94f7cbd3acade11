/*
 * pids.c: a process-ID allocator, the classic use of VM_NEXTFIT.
 *
 * IDs 1..PID_MAX live in an arena with quantum 1. Next-fit hands them out
 * in a cycle: an ID that is freed is not handed out again until every other
 * free ID has had its turn, so a stale ID held somewhere is unlikely to name
 * a new process. The example checks that property through three full
 * cycles, with some IDs held for a long time (skipped on every pass).
 */
#include <stdint.h>
#include <stdio.h>

#include "vmem.h"

#define PID_MAX 1000

int
main(void)
{
	/* Base 1: address 0 is NULL, which means failure. */
	vmem_t *pids = vmem_create("pids", (void *)1, PID_MAX, 1, NULL, NULL,
	    NULL, 0, VM_SLEEP);
	if (pids == NULL)
		return 1;

	/* init (1) and a few daemons stay alive throughout. */
	uintptr_t daemons[4];
	for (int i = 0; i < 4; i++)
		daemons[i] = (uintptr_t)vmem_alloc(pids, 1,
		    VM_NOSLEEP | VM_NEXTFIT);
	if (daemons[0] != 1 || daemons[3] != 4) {
		fprintf(stderr, "pids: first IDs were %lu..%lu\n",
		    (unsigned long)daemons[0], (unsigned long)daemons[3]);
		return 1;
	}

	/* Short-lived processes: each gets the next ID, wrapping past 4. */
	uintptr_t expect = 5;
	int wraps = 0;
	for (int n = 0; n < 3 * (PID_MAX - 4); n++) {
		uintptr_t pid = (uintptr_t)vmem_alloc(pids, 1,
		    VM_NOSLEEP | VM_NEXTFIT);
		if (pid != expect) {
			fprintf(stderr, "pids: got %lu, expected %lu\n",
			    (unsigned long)pid, (unsigned long)expect);
			return 1;
		}
		vmem_free(pids, (void *)pid, 1);
		if (++expect > PID_MAX) {
			expect = 5;	/* 1..4 are still in use */
			wraps++;
		}
	}
	printf("pids: %d cycles through %d IDs, no ID reused early\n", wraps,
	    PID_MAX - 4);

	/* Exhaustion: with every ID taken, VM_NOSLEEP returns NULL. */
	for (int n = 0; n < PID_MAX - 4; n++)
		if (vmem_alloc(pids, 1, VM_NOSLEEP | VM_NEXTFIT) == NULL)
			return 1;
	if (vmem_alloc(pids, 1, VM_NOSLEEP | VM_NEXTFIT) != NULL) {
		fprintf(stderr, "pids: allocated past PID_MAX\n");
		return 1;
	}
	printf("pids: all %d IDs in use; the next fork fails cleanly\n",
	    PID_MAX);
	for (uintptr_t pid = 1; pid <= PID_MAX; pid++)
		vmem_free(pids, (void *)pid, 1);
	if (vmem_size(pids, VMEM_ALLOC) != 0)
		return 1;
	vmem_destroy(pids);
	return 0;
}
