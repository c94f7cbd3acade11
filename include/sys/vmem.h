/*
 * sys/vmem.h: the name illumos and libumem code includes the vmem API by.
 *
 * The API itself is in vmem.h, next to the sys directory; this file only
 * includes it, so that `#include <sys/vmem.h>` and `#include <vmem.h>`
 * give the same declarations and either order, or both, is fine. Add
 * `-I include` (or pkg-config's --cflags) and nothing else. Written by
 * hand: cbindgen generates vmem.h only.
 *
 * The guard is illumos' own, so code that tests for it finds it.
 */

#ifndef _SYS_VMEM_H
#define _SYS_VMEM_H

#include "../vmem.h"

#endif /* _SYS_VMEM_H */
