// MPI calls return error codes (MpiRuntime sets MPI_ERRORS_RETURN); this turns them into Errors
// that name the call and MPI's own explanation.
#pragma once

#include <mpi.h>

namespace t5zero::dist {

void check_mpi(int code, const char* call);

}  // namespace t5zero::dist

#define T5_MPI_CHECK(call) ::t5zero::dist::check_mpi((call), #call)
