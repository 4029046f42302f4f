# Warnings and hardening shared by every target of the project.

add_compile_options(
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion
  -Wnon-virtual-dtor -Wold-style-cast -Wcast-align -Wnull-dereference
  -Wformat=2 -Wimplicit-fallthrough
  -fstack-protector-strong -fstack-clash-protection -fcf-protection)

# _FORTIFY_SOURCE needs optimisation; a Debug build would only warn.
if(NOT CMAKE_BUILD_TYPE STREQUAL "Debug")
  add_compile_definitions(_FORTIFY_SOURCE=2)
endif()

add_link_options(-Wl,-z,relro -Wl,-z,now -Wl,-z,noexecstack -Wl,--as-needed)

option(SESSIONKEYRING_WERROR "Treat compiler warnings as errors" OFF)
if(SESSIONKEYRING_WERROR)
  add_compile_options(-Werror)
endif()

set(SESSIONKEYRING_SANITIZERS "" CACHE STRING
  "Comma-separated sanitizers to build with, for example address,undefined")
if(SESSIONKEYRING_SANITIZERS)
  add_compile_options(-fsanitize=${SESSIONKEYRING_SANITIZERS}
    -fno-omit-frame-pointer -fno-sanitize-recover=all)
  # libpam unloads the module at pam_end; keeping it mapped keeps the
  # sanitizers' stack traces readable.
  add_link_options(-fsanitize=${SESSIONKEYRING_SANITIZERS} -Wl,-z,nodelete)
endif()
