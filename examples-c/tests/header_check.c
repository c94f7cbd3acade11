/*
 * header_check.c: uses include/vmem.h the way illumos and libumem code
 * does: through <sys/vmem.h> and <vmem.h>, with `struct vmem *`, every
 * macro and every typedef. examples-c/header-check.sh builds it as C89,
 * C99 and C11 (and, through header_check.cpp, as C++) with gcc and clang,
 * -Wall -Wextra -Werror -pedantic, links it against libvmem.a and runs it.
 *
 * It is C89 on purpose: no // comments, no declarations after statements,
 * no long long.
 */

/* Both names, in both orders and twice: the guards must hold. */
#include <sys/vmem.h>
#include <vmem.h>
#include <sys/vmem.h>
#include <vmem.h>

#include <stdio.h>

/* A compile-time check: a negative array size stops the build. */
#define STATIC_CHECK(name, cond) typedef char name[(cond) ? 1 : -1]

/* The per-allocation flags lie in VM_FLAGS, the creation flags in
 * VMC_FLAGS, and the two masks share no bit. */
STATIC_CHECK(alloc_flags_in_vm_flags,
    ((VM_SLEEP | VM_NOSLEEP | VM_PANIC | VM_PUSHPAGE | VM_KMFLAGS |
    VM_UMFLAGS | VM_BESTFIT | VM_FIRSTFIT | VM_NEXTFIT | VM_MEMLOAD |
    VM_NORELOC | VM_ABORT | VM_ENDALLOC) & ~VM_FLAGS) == 0);
STATIC_CHECK(create_flags_in_vmc_flags,
    ((VMC_POPULATOR | VMC_NO_QCACHE | VMC_IDENTIFIER | VMC_XALLOC |
    VMC_XALIGN) & ~VMC_FLAGS) == 0);
STATIC_CHECK(masks_apart, (VM_FLAGS & VMC_FLAGS) == 0);
STATIC_CHECK(umflags_are_kmflags, VM_UMFLAGS == VM_KMFLAGS);
STATIC_CHECK(names_fit, VMEM_NAMELEN > 1);

/* `struct vmem *` and `vmem_t *` are one type: returning the one as the
 * other needs no cast. */
static struct vmem *
as_struct(vmem_t *vmp)
{
	return vmp;
}

static vmem_t *
as_typedef(struct vmem *vmp)
{
	return vmp;
}

/* The library's own functions have the types of the typedefs. */
static vmem_alloc_t *const import_fn = vmem_alloc;
static vmem_free_t *const release_fn = vmem_free;
static vmem_free_t *const xrelease_fn = vmem_xfree;

/* And so do functions written against the illumos declarations. */
static size_t xalign_seen;

static void *
page_import(struct vmem *src, size_t *size, size_t align, int vmflag)
{
	xalign_seen = align;
	return vmem_xalloc(src, *size, align, 0, 0, NULL, NULL, vmflag);
}

static vmem_ximport_t *const ximport_fn = page_import;

static int reclaims;

static void
count_reclaim(struct vmem *vmp, int vmflag)
{
	(void)vmp;
	(void)vmflag;
	reclaims++;
}

static vmem_reclaim_t *const reclaim_fn = count_reclaim;

static size_t walked;

static void
add_up(void *arg, void *start, size_t size)
{
	(void)arg;
	(void)start;
	walked += size;
}

/* Every macro, by group: within a group, the single-bit flags differ. */
struct flag {
	const char *name;
	unsigned long value;
	int group;	/* 0: a value or mask, else bits that must not overlap */
};

static const struct flag flags[] = {
	{ "VM_SLEEP", VM_SLEEP, 0 },
	{ "VM_NOSLEEP", VM_NOSLEEP, 1 },
	{ "VM_PANIC", VM_PANIC, 1 },
	{ "VM_PUSHPAGE", VM_PUSHPAGE, 1 },
	{ "VM_KMFLAGS", VM_KMFLAGS, 0 },
	{ "VM_UMFLAGS", VM_UMFLAGS, 0 },
	{ "VM_BESTFIT", VM_BESTFIT, 1 },
	{ "VM_FIRSTFIT", VM_FIRSTFIT, 1 },
	{ "VM_NEXTFIT", VM_NEXTFIT, 1 },
	{ "VM_MEMLOAD", VM_MEMLOAD, 1 },
	{ "VM_NORELOC", VM_NORELOC, 1 },
	{ "VM_ABORT", VM_ABORT, 1 },
	{ "VM_ENDALLOC", VM_ENDALLOC, 1 },
	{ "VM_FLAGS", VM_FLAGS, 0 },
	{ "VMC_POPULATOR", VMC_POPULATOR, 1 },
	{ "VMC_NO_QCACHE", VMC_NO_QCACHE, 1 },
	{ "VMC_IDENTIFIER", VMC_IDENTIFIER, 1 },
	{ "VMC_XALLOC", VMC_XALLOC, 1 },
	{ "VMC_XALIGN", VMC_XALIGN, 1 },
	{ "VMC_FLAGS", VMC_FLAGS, 0 },
	{ "VMEM_ALLOC", VMEM_ALLOC, 2 },
	{ "VMEM_FREE", VMEM_FREE, 2 },
	{ "VMEM_SPAN", VMEM_SPAN, 2 },
	{ "VMEM_ROTOR", VMEM_ROTOR, 2 },
	{ "VMEM_WALKER", VMEM_WALKER, 2 },
	{ "VMEM_REENTRANT", VMEM_REENTRANT, 2 },
	{ "VMEM_MAXFREE", VMEM_MAXFREE, 2 },
	{ "VMEM_NAMELEN", VMEM_NAMELEN, 0 }
};

static int failures;

static void
check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "header_check: failed: %s\n", what);
		failures++;
	}
}

static void
check_flags(void)
{
	size_t n = sizeof (flags) / sizeof (flags[0]);
	size_t i, j;

	for (i = 0; i < n; i++) {
		for (j = i + 1; j < n; j++) {
			if (flags[i].group != 0 &&
			    flags[i].group == flags[j].group &&
			    (flags[i].value & flags[j].value) != 0) {
				fprintf(stderr, "header_check: %s and %s "
				    "share a bit\n", flags[i].name,
				    flags[j].name);
				failures++;
			}
		}
	}
}

/* Every function, so that the link proves each one's C linkage. */
static void
check_calls(void)
{
	struct vmem *parent, *child, *xchild;
	vmem_t *ids;
	vmem_kstat_t ks;
	void *a, *b, *x;

	parent = vmem_create("parent", (void *)(size_t)0x100000, 0x100000,
	    0x1000, NULL, NULL, NULL, 0, VM_SLEEP);
	child = vmem_create("child", NULL, 0, 0x10, import_fn, release_fn,
	    as_typedef(parent), 0x40, VM_SLEEP);
	xchild = vmem_xcreate("xchild", NULL, 0, 0x1000, ximport_fn,
	    xrelease_fn, parent, 0, VM_SLEEP | VMC_XALIGN | VMC_NO_QCACHE);
	ids = vmem_create("ids", NULL, 0, 1, NULL, NULL, NULL, 0, VM_SLEEP);
	check(parent != NULL && child != NULL && xchild != NULL &&
	    ids != NULL, "vmem_create and vmem_xcreate");

	vmem_set_reclaim(as_struct(child), reclaim_fn);
	vmem_set_limit(child, 0x1000);
	a = vmem_alloc(child, 0x20, VM_NOSLEEP | VM_BESTFIT);
	b = vmem_alloc(child, 0x1000, VM_SLEEP | VM_ABORT);
	check(a != NULL && vmem_contains(parent, a, 0x20),
	    "vmem_alloc through vmem_alloc_t");
	check(b == NULL && reclaims == 1, "VM_ABORT past the limit");
	vmem_set_limit(child, 0);
	check(vmem_roundup_size(child, 0x21) == 0x30, "vmem_roundup_size");
	vmem_free(child, a, 0x20);
	vmem_qcache_reap(child);
	vmem_arena_update(child);
	vmem_get_kstat(child, &ks);
	check(ks.alloc >= 1 && ks.mem_inuse == 0, "vmem_get_kstat");

	x = vmem_xalloc(xchild, 0x1000, 0x4000, 0, 0, NULL, NULL,
	    VM_NOSLEEP | VM_PUSHPAGE | VM_MEMLOAD | VM_NORELOC);
	check(x != NULL && (size_t)x % 0x4000 == 0 && xalign_seen == 0x4000,
	    "vmem_xalloc through vmem_ximport_t");
	vmem_xfree(xchild, x, 0x1000);

	check(vmem_add(ids, (void *)(size_t)1, 100, VM_NOSLEEP) ==
	    (void *)(size_t)1, "vmem_add");
	a = vmem_alloc(ids, 1, VM_NOSLEEP | VM_NEXTFIT | VM_FIRSTFIT);
	b = vmem_alloc(ids, 1, VM_NOSLEEP | VM_ENDALLOC);
	check(a != NULL && b != NULL, "policies");
	walked = 0;
	vmem_walk(ids, VMEM_ALLOC | VMEM_REENTRANT, add_up, NULL);
	check(walked == 2, "vmem_walk");
	walked = 0;
	vmem_walk(ids, VMEM_SPAN | VMEM_ROTOR | VMEM_WALKER, add_up, NULL);
	check(walked == 0, "vmem_walk with VMEM_WALKER");
	check(vmem_size(ids, VMEM_ALLOC | VMEM_FREE) == 100 &&
	    vmem_size(ids, VMEM_MAXFREE) <= 98, "vmem_size");
	vmem_free(ids, a, 1);
	vmem_free(ids, b, 1);

	vmem_destroy(ids);
	vmem_destroy(xchild);
	vmem_destroy(child);
	check(vmem_size(parent, VMEM_ALLOC) == 0, "spans went back");
	vmem_destroy(parent);
}

int
main(void)
{
	check_flags();
	check_calls();
	if (failures != 0)
		return 1;
	printf("header_check: ok\n");
	return 0;
}
