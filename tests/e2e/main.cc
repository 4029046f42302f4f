// The e2e binary's entry point: GoogleTest plus the shared environment,
// which builds the sandbox only when tests run, never when they are listed.

#include <gtest/gtest.h>

#include "environment.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(&sessionkeyring::e2e::TheEnvironment());
  return RUN_ALL_TESTS();
}
