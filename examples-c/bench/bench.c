/*
 * bench.c: vmem workloads through the libumem vmem C API, so one source
 * can be timed against libvmem (this project) and against another
 * implementation of the same API, such as libumem's.
 *
 *   make -C examples-c LIBDIR=$PWD/target/release bench
 *   ./examples-c/build/bench            # one line per workload: NAME NS
 *
 * Every arena starts at 4 GiB, spans 2^44 bytes and has a 4 KiB quantum.
 * Each figure is nanoseconds per alloc+free pair (per step for the churn),
 * from a loop that grows until one timed pass lasts at least 0.2 s; the
 * two-thread figures are wall time divided by the pairs of both threads.
 *
 * Built with -DUSE_UMEM it includes libumem's <umem.h> and <sys/vmem.h>
 * instead of "vmem.h", keeps libumem's reaper from running and calls
 * vmem_update() where libumem's timer would have.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#ifdef USE_UMEM
#include <sys/vmem.h>
#include <umem.h>
extern volatile unsigned long long umem_reap_next;
extern void vmem_update(void *);
#define UPDATE() vmem_update(NULL)
#else
#include "vmem.h"
#define UPDATE() ((void)0) /* libvmem rescales its hash by itself */
#endif

#define QUANTUM ((size_t)4096)
#define BASE ((void *)((uintptr_t)1 << 32))
#define SIZE ((size_t)1 << 44)
#define LIVE 1000000L

static double now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* A seeded xorshift64 generator: the same stream on both sides. */
static uint64_t rng = 0x5eed2001;
static uint64_t rnd(void) {
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void *must(void *p, const char *what) {
	if (p == NULL) {
		fprintf(stderr, "bench: %s failed\n", what);
		exit(1);
	}
	return p;
}

static vmem_t *arena(const char *name, size_t qcache_max) {
	return must(vmem_create(name, BASE, SIZE, QUANTUM, NULL, NULL, NULL, qcache_max, VM_SLEEP),
	    "vmem_create");
}

/* ---- timed operations: each runs `n` times ---------------------------- */

struct ctx {
	vmem_t *vm;
	size_t size;
	int flags;
	uintptr_t *live; /* churn: the live segments and their sizes */
	size_t *lsize;
	pthread_mutex_t *mutex;
};

static void op_pair(struct ctx *c, long n) {
	for (long i = 0; i < n; i++) {
		void *p = vmem_alloc(c->vm, c->size, c->flags | VM_NOSLEEP);
		vmem_free(c->vm, must(p, "vmem_alloc"), c->size);
	}
}

static void op_xpair(struct ctx *c, long n) {
	for (long i = 0; i < n; i++) {
		void *p = vmem_xalloc(c->vm, c->size, 64 * 1024, 0, 1024 * 1024, NULL, NULL,
		    c->flags | VM_NOSLEEP);
		vmem_xfree(c->vm, must(p, "vmem_xalloc"), c->size);
	}
}

/* Frees a random live segment and allocates 1 to 16 quanta in its place. */
static void op_churn(struct ctx *c, long n) {
	for (long i = 0; i < n; i++) {
		long k = (long)(rnd() % LIVE);
		vmem_free(c->vm, (void *)c->live[k], c->lsize[k]);
		c->lsize[k] = QUANTUM * (1 + rnd() % 16);
		c->live[k] = (uintptr_t)must(vmem_alloc(c->vm, c->lsize[k], VM_NOSLEEP), "vmem_alloc");
	}
}

static void op_mutex(struct ctx *c, long n) {
	for (long i = 0; i < n; i++) {
		pthread_mutex_lock(c->mutex);
		pthread_mutex_unlock(c->mutex);
	}
}

/* Nanoseconds per operation: one warm-up pass, then passes of 4x the
 * count until one lasts at least 0.2 s. */
static double measure(void (*op)(struct ctx *, long), struct ctx *c) {
	long n = 64;
	op(c, n);
	for (;;) {
		double t0 = now_ns();
		op(c, n);
		double t = now_ns() - t0;
		if (t >= 2e8)
			return t / (double)n;
		n *= 4;
	}
}

static void report(const char *name, double ns) {
	printf("%-28s %10.1f\n", name, ns);
	fflush(stdout);
}

/* ---- two threads on one arena ------------------------------------------ */

#define THREAD_PAIRS 2000000L

static pthread_barrier_t start;

static void *worker(void *arg) {
	struct ctx *c = arg;
	pthread_barrier_wait(&start);
	op_pair(c, THREAD_PAIRS);
	return NULL;
}

/* Wall time of two threads doing THREAD_PAIRS pairs each, per pair. */
static double two_threads(vmem_t *vm, size_t size) {
	struct ctx c = {.vm = vm, .size = size};
	pthread_t t[2];
	op_pair(&c, 100000); /* warm the caches of this thread */
	pthread_barrier_init(&start, NULL, 3);
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, worker, &c);
	pthread_barrier_wait(&start);
	double t0 = now_ns();
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	double ns = (now_ns() - t0) / (double)(2 * THREAD_PAIRS);
	pthread_barrier_destroy(&start);
	return ns;
}

int main(void) {
#ifdef USE_UMEM
	/* Start libumem, then push its next reap past the end of time: built
	 * with -DNDEBUG its update thread never starts, and a reap attempt
	 * would wait for it forever. */
	umem_free(must(umem_alloc(1, UMEM_DEFAULT), "umem_alloc"), 1);
	umem_reap_next = ~0ULL;
#endif
	static const struct {
		const char *name;
		int flag;
	} policy[] = {
		{"instant", 0}, {"best", VM_BESTFIT}, {"first", VM_FIRSTFIT}, {"next", VM_NEXTFIT}};
	char name[64];

	pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
	struct ctx mc = {.mutex = &mutex};
	report("pthread_mutex_pair", measure(op_mutex, &mc));

	/* Pairs of 16 KiB on an empty arena, one arena per policy. */
	for (int p = 0; p < 4; p++) {
		struct ctx c = {.vm = arena(policy[p].name, 0), .size = 4 * QUANTUM,
		    .flags = policy[p].flag};
		UPDATE();
		snprintf(name, sizeof name, "%s_16k_empty", policy[p].name);
		report(name, measure(op_pair, &c));
		vmem_destroy(c.vm);
	}

	/* One quantum through the quantum cache (qcache_max: 8 quanta). */
	{
		struct ctx c = {.vm = arena("qcache", 8 * QUANTUM), .size = QUANTUM};
		UPDATE();
		report("qcache_4k", measure(op_pair, &c));
		vmem_destroy(c.vm);
	}

	/* 10^6 live segments of 1 to 8 quanta, each followed by a free hole of
	 * 1 to 8 quanta; then 20 KiB pairs per policy, 16 KiB xalloc pairs
	 * and the churn, all on that arena. */
	{
		struct ctx c = {.vm = arena("live", 0), .size = 5 * QUANTUM};
		uintptr_t *live = must(malloc(LIVE * sizeof *live), "malloc");
		size_t *lsize = must(malloc(LIVE * sizeof *lsize), "malloc");
		uintptr_t *hole = must(malloc(LIVE * sizeof *hole), "malloc");
		size_t *hsize = must(malloc(LIVE * sizeof *hsize), "malloc");
		for (long i = 0; i < LIVE; i++) {
			lsize[i] = QUANTUM * (1 + rnd() % 8);
			live[i] = (uintptr_t)must(vmem_alloc(c.vm, lsize[i], VM_NOSLEEP), "fill");
			hsize[i] = QUANTUM * (1 + rnd() % 8);
			hole[i] = (uintptr_t)must(vmem_alloc(c.vm, hsize[i], VM_NOSLEEP), "fill");
		}
		UPDATE();
		for (long i = 0; i < LIVE; i++)
			vmem_free(c.vm, (void *)hole[i], hsize[i]);
		UPDATE();
		free(hole);
		free(hsize);

		/* Next-fit goes last: its pairs move through the holes, so the
		 * freelists it leaves depend on how many pairs it ran, and that
		 * count depends on its speed. The other pairs leave the arena as
		 * they found it after their first pair, so the two libraries
		 * compare the same arena. */
		for (int p = 0; p < 3; p++) {
			c.flags = policy[p].flag;
			snprintf(name, sizeof name, "%s_20k_1e6_live", policy[p].name);
			report(name, measure(op_pair, &c));
		}
		c.size = 4 * QUANTUM;
		for (int p = 0; p < 2; p++) {
			c.flags = policy[p].flag;
			snprintf(name, sizeof name, "xalloc_%s_1e6_live", policy[p].name);
			report(name, measure(op_xpair, &c));
		}
		c.size = 5 * QUANTUM;
		c.flags = VM_NEXTFIT;
		report("next_20k_1e6_live", measure(op_pair, &c));
		c.live = live;
		c.lsize = lsize;
		report("churn_1e6_live", measure(op_churn, &c));
		for (long i = 0; i < LIVE; i++)
			vmem_free(c.vm, (void *)live[i], lsize[i]);
		free(live);
		free(lsize);
		vmem_destroy(c.vm);
	}

	/* Two threads on one arena: 16 KiB pairs without caches, 4 KiB pairs
	 * through the quantum cache. */
	{
		vmem_t *vm = arena("threads", 0);
		UPDATE();
		report("2_threads_16k_nocache", two_threads(vm, 4 * QUANTUM));
		vmem_destroy(vm);
		vm = arena("threads_qc", 8 * QUANTUM);
		UPDATE();
		report("2_threads_4k_qcache", two_threads(vm, QUANTUM));
		vmem_destroy(vm);
	}
	return 0;
}
