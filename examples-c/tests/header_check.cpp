/*
 * header_check.cpp: include/vmem.h from C++. examples-c/header-check.sh
 * builds it as C++98, C++11 and C++17 with g++ and clang++, -Wall -Wextra
 * -Werror -pedantic, and links it against libvmem.a: the link fails if the
 * header declared any function without C linkage, since C++ would then
 * look for a mangled name the library does not have.
 *
 * The checks of header_check.c run here too (it is written in the common
 * subset of C and C++); what follows adds C++'s stricter view of types.
 */
#include <sys/vmem.h>
#include <vmem.h>

namespace cxx_checks {

template <typename T, typename U> struct same { enum { value = 0 }; };
template <typename T> struct same<T, T> { enum { value = 1 }; };

#define CXX_CHECK(name, cond) typedef char name[(cond) ? 1 : -1]

/* One arena type, whichever name it goes by. */
CXX_CHECK(vmem_t_is_struct_vmem, (same<vmem_t, struct vmem>::value));
/* The function typedefs, and the library's functions, are illumos'. */
CXX_CHECK(alloc_type,
    (same<vmem_alloc_t, void *(vmem_t *, size_t, int)>::value));
CXX_CHECK(free_type,
    (same<vmem_free_t, void(vmem_t *, void *, size_t)>::value));
CXX_CHECK(ximport_type,
    (same<vmem_ximport_t, void *(vmem_t *, size_t *, size_t, int)>::value));
CXX_CHECK(reclaim_type, (same<vmem_reclaim_t, void(vmem_t *, int)>::value));

} /* namespace cxx_checks */

#include "header_check.c"
