#include "dist/mpi_error.h"

#include <string>

#include "tensor/error.h"

namespace t5zero::dist {

void check_mpi(int code, const char* call) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) length = 0;
  fail("MPI call failed: ", call, ": ",
       length > 0 ? std::string(text, length) : "error code " + std::to_string(code));
}

}  // namespace t5zero::dist
