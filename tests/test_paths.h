// Where the tests find what lies outside the test binary: the resdyn program, the MNIST
// files and the header's folder. Each can be set in the environment (an empty value counts
// as unset) and defaults to its place in the source tree, where the tests run from. The
// paths are absolute, so a test that runs the program in a directory of its own still
// finds them.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

namespace test_paths {

inline std::string from_environment(const char* variable, const char* fallback) {
  const char* value = std::getenv(variable);
  return std::filesystem::absolute(value && *value ? value : fallback).string();
}

// The resdyn program: $RESDYN_BIN, else build/resdyn.
inline std::string program() { return from_environment("RESDYN_BIN", "build/resdyn"); }

// The folder of the four MNIST IDX files: $RESDYN_MNIST_DIR, else data/mnist.
inline std::string mnist_dir() { return from_environment("RESDYN_MNIST_DIR", "data/mnist"); }

// The folder holding resdyn.h: $RESDYN_INCLUDE_DIR, else include.
inline std::string include_dir() { return from_environment("RESDYN_INCLUDE_DIR", "include"); }

}  // namespace test_paths
