// The output directory of an experiment (OUTDIR of every analysis subcommand).
#pragma once

#include <string>

namespace resdyn {

// Creates `dir` (with its parents) and checks that a file can be written in it, so that a
// bad OUTDIR fails at once, not after minutes of computing. `who` starts the message.
void prepare_output_directory(const std::string& dir, const std::string& who);

// The same checks without creating anything: `dir` is a writable directory, or can be made
// in the nearest directory that exists. For a command to refuse a bad OUTDIR before loading
// its inputs, while a run refused for another reason leaves no directory behind.
void check_output_directory(const std::string& dir, const std::string& who);

}  // namespace resdyn
