/*
 * fork.c: fork from a threaded program.
 *
 * Three threads allocate and free on a quantum-cached arena and on a child
 * arena importing from it while the main thread forks 100 times; each
 * child allocates and frees from both arenas and exits. vmem's fork
 * handlers take every lock before the fork and release them in both
 * processes, so no child inherits a lock another thread held.
 */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vmem.h>

#define P(x) ((void *)(uintptr_t)(x))

static vmem_t *parent, *child;
static volatile int stop;

static void *
worker(void *arg)
{
	void *live[64];
	size_t sizes[64];
	vmem_t *from[64];
	unsigned n = 0, i = (unsigned)(uintptr_t)arg;
	for (;;) {
		if (stop || n == 64) {
			while (n > 0) {
				n--;
				vmem_free(from[n], live[n], sizes[n]);
			}
			if (stop)
				return NULL;
		}
		i++;
		from[n] = (i % 3 == 0) ? child : parent;
		sizes[n] = 16 * (1 + i % 6);
		live[n] = vmem_alloc(from[n], sizes[n], VM_SLEEP);
		n++;
	}
}

int
main(void)
{
	parent = vmem_create("parent", P(0x100000000), 0x40000000, 16, NULL,
	    NULL, NULL, 64, VM_SLEEP);
	child = vmem_create("child", NULL, 0, 16, vmem_alloc, vmem_free,
	    parent, 0, VM_SLEEP);
	/* A parent that ignores SIGCHLD would have the children reaped
	 * before waitpid sees them; this program wants their statuses. */
	signal(SIGCHLD, SIG_DFL);
	pthread_t t[3];
	for (int i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, worker, P(i));
	int bad = 0;
	for (int f = 0; f < 100; f++) {
		pid_t pid = fork();
		if (pid == 0) {
			for (int i = 0; i < 100; i++) {
				size_t size = 16 * (1 + i % 6);
				void *a = vmem_alloc(parent, size, VM_NOSLEEP);
				void *b = vmem_alloc(child, size, VM_NOSLEEP);
				if (a == NULL || b == NULL)
					_exit(3);
				vmem_free(parent, a, size);
				vmem_free(child, b, size);
			}
			_exit(0);
		}
		int status;
		if (pid < 0 || waitpid(pid, &status, 0) != pid ||
		    !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			bad++;
	}
	stop = 1;
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	vmem_reap();
	if (bad != 0 || vmem_size(child, VMEM_ALLOC) != 0) {
		fprintf(stderr, "fork: %d children failed\n", bad);
		return 1;
	}
	vmem_destroy(child);
	vmem_destroy(parent);
	printf("fork: 100 children of a 4-thread program allocated, freed "
	    "and exited cleanly\n");
	return 0;
}
