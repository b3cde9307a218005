// The header as another program meets it: the example in its manual compiles and runs as
// printed, and each configuration macro leaves out what it says and nothing the rest needs.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "test_paths.h"

namespace {

std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

void write_text(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

struct Scratch {
  std::string dir = testing::TempDir() + "/header_config." + std::to_string(getpid());
  Scratch() { std::filesystem::create_directories(dir); }
  ~Scratch() { std::filesystem::remove_all(dir); }
};

// Compiles source with the given macros (-D...) into dir/prog, or only checks it (Build::Check:
// a third of the time, for programs that are never run); returns the compiler's status and
// leaves its messages in dir/build.log.
enum class Build { Program, Check };
int compile(const Scratch& s, const std::string& source, const std::string& defines, Build build = Build::Program) {
  write_text(s.dir + "/main.cpp", source);
  const char* cxx_env = std::getenv("CXX");
  const std::string cxx = cxx_env && *cxx_env ? cxx_env : "c++";
  const std::string output = build == Build::Check ? " -fsyntax-only" : " -o '" + s.dir + "/prog'";
  const std::string command = cxx + " -std=c++17 -O0 -Wall -Wextra -Werror -pthread " + defines + " -I'" +
                              test_paths::include_dir() + "' '" + s.dir + "/main.cpp'" + output + " 2>'" + s.dir +
                              "/build.log'";
  return std::system(command.c_str());
}

// The lines of the manual between its example's first and last line, without the comment
// marks: what a reader copies out of the header.
std::string manual_example() {
  std::istringstream header(read_text(test_paths::include_dir() + "/resdyn.h"));
  std::string line, program;
  bool inside = false;
  while (std::getline(header, line)) {
    if (line == "//     #define RESDYN_IMPLEMENTATION") inside = true;
    if (!inside) continue;
    if (line.rfind("//     ", 0) != 0) break;
    program += line.substr(7) + "\n";
  }
  return program;
}

// One forward pass of an initialised net: what every configuration keeps.
const char* kInference = R"(#define RESDYN_IMPLEMENTATION
#include "resdyn.h"
#include <cstdio>
int main() {
  resdyn::Config cfg;
  cfg.width = 16;
  resdyn::Net<float> net(cfg);
  resdyn::Rng rng(3);
  resdyn::initialise(net, rng);
  std::vector<uint8_t> images(2 * 784, 200), labels = {1, 7};
  resdyn::Trace<float> trace;
  resdyn::set_input(trace, images.data(), 2, cfg.input);
  resdyn::ForwardOptions<float> options;
  options.threads = 2;
  resdyn::forward(net, trace, options);
  std::printf("loss %.3f\n", resdyn::softmax_cross_entropy(trace.logits.data(), labels.data(), 2, 10, (float*)nullptr));
}
)";

}  // namespace

TEST(HeaderConfig, TheManualsExampleCompilesAndRuns) {
  const Scratch s;
  const std::string program = manual_example();
  ASSERT_GT(std::count(program.begin(), program.end(), '\n'), 10) << "no example found in the manual";
  ASSERT_EQ(compile(s, program, ""), 0) << read_text(s.dir + "/build.log");
  ASSERT_EQ(std::system(("'" + s.dir + "/prog' >'" + s.dir + "/out.txt'").c_str()), 0);
  const std::string out = read_text(s.dir + "/out.txt");
  ASSERT_EQ(out.size(), std::string("class 0\n").size()) << out;
  EXPECT_EQ(out.rfind("class ", 0), 0u) << out;
}

// Each macro builds and runs the same inference (with the same loss, as nothing it leaves out
// takes part in it), and the part it leaves out is really gone: a program that uses it does
// not compile.
TEST(HeaderConfig, EachMacroLeavesOutItsPartAndKeepsInference) {
  const Scratch s;
  ASSERT_EQ(compile(s, kInference, ""), 0) << read_text(s.dir + "/build.log");
  ASSERT_EQ(std::system(("'" + s.dir + "/prog' >'" + s.dir + "/full.txt'").c_str()), 0);
  const std::string full = read_text(s.dir + "/full.txt");
  ASSERT_EQ(full.rfind("loss ", 0), 0u) << full;
  const struct {
    const char* macro;
    const char* left_out;  // a use of something the macro removes
  } cases[] = {
      {"RESDYN_NO_FILES", "resdyn::load_mnist(\"data\", true);"},
      {"RESDYN_NO_TRAINING", "resdyn::Optimizer<float> o;"},
      {"RESDYN_NO_THREADS", "std::thread t;"},
  };
  for (const auto& c : cases) {
    const std::string define = std::string("-D") + c.macro;
    ASSERT_EQ(compile(s, kInference, define), 0) << c.macro << "\n" << read_text(s.dir + "/build.log");
    ASSERT_EQ(std::system(("'" + s.dir + "/prog' >'" + s.dir + "/out.txt'").c_str()), 0) << c.macro;
    EXPECT_EQ(read_text(s.dir + "/out.txt"), full) << c.macro;
    std::string with_use = kInference;
    with_use.insert(with_use.find("int main() {") + 12, std::string("\n  ") + c.left_out);
    EXPECT_NE(compile(s, with_use, define, Build::Check), 0) << c.macro << " left in: " << c.left_out;
    EXPECT_EQ(compile(s, with_use, "", Build::Check), 0) << c.left_out << "\n" << read_text(s.dir + "/build.log");
  }
}
