// The program as a user meets it: bad input of every kind gets one line on stderr and exit
// status 2, never a crash and never a half-written output file.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "resdyn.h"
#include "test_paths.h"

namespace {

std::string program() { return test_paths::program(); }

struct Outcome {
  int status = -1;
  std::string out, err;
};

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

Outcome run(const std::string& args) {
  const std::string dir = testing::TempDir();
  const std::string tag = std::to_string(getpid());  // two test runs never share these files
  const std::string out = dir + "/cli.out." + tag, err = dir + "/cli.err." + tag;
  const std::string cmd = program() + " " + args + " >" + out + " 2>" + err + " </dev/null";
  const int raw = std::system(cmd.c_str());
  Outcome o;
  o.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
  o.out = slurp(out);
  o.err = slurp(err);
  return o;
}

bool exists(const std::string& path) { return std::ifstream(path).good(); }

// One line that names the program, exit status 2.
void expect_clean_failure(const std::string& args, const std::string& mention) {
  const Outcome o = run(args);
  EXPECT_EQ(o.status, 2) << args << "\n" << o.err;
  EXPECT_EQ(o.err.rfind("resdyn", 0), 0u) << o.err;
  EXPECT_EQ(o.err.find('\n'), o.err.size() - 1) << "not one line: " << o.err;
  EXPECT_NE(o.err.find(mention), std::string::npos) << "'" << o.err << "' does not mention '" << mention << "'";
}

}  // namespace

TEST(Cli, HelpWorksForTheProgramAndEachCommand) {
  for (const char* args : {"--help", "train --help", "eval --help"}) {
    const Outcome o = run(args);
    EXPECT_EQ(o.status, 0) << args;
    EXPECT_NE(o.out.find("usage: resdyn"), std::string::npos) << args;
  }
  EXPECT_NE(run("train --help").out.find("--weights shared|per-layer"), std::string::npos);
}

TEST(Cli, NonsenseFlagsAreOneLineErrors) {
  expect_clean_failure("", "usage");
  expect_clean_failure("fly", "unknown command 'fly'");
  expect_clean_failure("train --wings 2", "unknown flag --wings");
  expect_clean_failure("train --width abc", "--width expects a whole number");
  expect_clean_failure("train --width 0", "--width must be between");
  expect_clean_failure("train --lr nan", "--lr expects a number");
  expect_clean_failure("train --arch cnn", "--arch must be one of resnet|mlp");
  expect_clean_failure("train --epochs", "--epochs needs a value");
  expect_clean_failure("train --stem=1", "--stem takes no value");
  expect_clean_failure("eval", "--model is required");
  expect_clean_failure("train --stem --no-stem", "--stem given twice");
  expect_clean_failure("train --width ' 5'", "--width expects a whole number");
  expect_clean_failure("train --lr ' 0.1'", "--lr expects a number");
  // A file name with a newline in it is quoted with an escape: the message stays one line.
  expect_clean_failure("eval --model 'no\nsuch.resdyn'", "no\\nsuch.resdyn");
}

// Every command that runs a float net takes --precision fp32|bf16, and refuses anything else
// before it reads a file.
TEST(Cli, PrecisionIsFp32OrBf16ForEveryCommandThatRunsANet) {
  const std::string dir = testing::TempDir(), model = " --model " + dir + "/none.resdyn",
                    out = " --out " + dir + "/precision_never";
  for (const std::string& command : {std::string("train") + out, "eval" + model, "dynamics" + model + out,
                                     "noise" + model + out, "spectrum" + model + out, "embed" + model + out}) {
    SCOPED_TRACE(command);
    expect_clean_failure(command + " --precision bf17", "--precision must be one of fp32|bf16");
    EXPECT_NE(run(command.substr(0, command.find(' ')) + " --help").out.find("--precision fp32|bf16"),
              std::string::npos);
  }
  EXPECT_FALSE(exists(dir + "/precision_never"));
}

TEST(Cli, MissingDatasetAndBadModelAreOneLineErrors) {
  const std::string dir = testing::TempDir();
  expect_clean_failure("train --data " + dir + "/no-such-mnist --out " + dir + "/never.resdyn", "no-such-mnist");
  EXPECT_FALSE(exists(dir + "/never.resdyn"));
  expect_clean_failure("eval --model " + dir + "/missing.resdyn", "missing.resdyn");
  {
    std::ofstream bad(dir + "/garbage.resdyn", std::ios::binary);
    bad << "this is not a model file at all, not even close to one, whatever its name says";
  }
  expect_clean_failure("eval --model " + dir + "/garbage.resdyn", "bad magic");
}

TEST(Cli, TrainsSavesAndEvaluatesOnRealData) {
  const std::string data = test_paths::mnist_dir();
  const std::string model = testing::TempDir() + "/cli.resdyn";
  std::remove(model.c_str());
  const Outcome t = run("train --data " + data +
                        " --width 32 --depth 3 --epochs 1 --limit-train 2000 "
                        "--limit-test 500 --threads 2 --out " +
                        model);
  ASSERT_EQ(t.status, 0) << t.err;
  EXPECT_NE(t.out.find("test error"), std::string::npos);
  EXPECT_NE(slurp(model + ".csv").find("epoch,train_loss"), std::string::npos);
  const Outcome e = run("eval --data " + data + " --limit-test 500 --model " + model);
  ASSERT_EQ(e.status, 0) << e.err;
  EXPECT_NE(e.out.find("confusion matrix"), std::string::npos);
  // Unwritable output: a clean error, and no file left behind.
  const std::string nowhere = testing::TempDir() + "/no-such-dir/m.resdyn";
  expect_clean_failure("train --data " + data +
                           " --width 8 --depth 1 --epochs 1 --limit-train 100 "
                           "--limit-test 100 --out " +
                           nowhere,
                       "no-such-dir");
  EXPECT_FALSE(exists(nowhere));
  EXPECT_FALSE(exists(testing::TempDir() + "/no-such-dir"));  // not made, so nothing left in it
}

TEST(Cli, TrainsInFixedPointAndSavesAFloatModel) {
  const std::string data = test_paths::mnist_dir();
  const std::string model = testing::TempDir() + "/cli_fixed." + std::to_string(getpid()) + ".resdyn";
  std::remove(model.c_str());
  const Outcome t = run("train --fixed-point --data " + data +
                        " --width 32 --depth 3 --epochs 1 "
                        "--limit-train 2000 --limit-test 500 --out " +
                        model);
  ASSERT_EQ(t.status, 0) << t.err;
  EXPECT_NE(t.out.find("fixed-point test error"), std::string::npos) << t.out;
  EXPECT_NE(slurp(model).find("fixed_point: Q15.16"), std::string::npos);  // the metadata says how
  const Outcome e = run("eval --data " + data + " --limit-test 500 --model " + model);
  EXPECT_EQ(e.status, 0) << e.err;
  std::remove(model.c_str());
  std::remove((model + ".csv").c_str());
  // What the integer trainer does not do is refused before any work, not ignored.
  expect_clean_failure("train --fixed-point --optimizer adam", "SGD only");
  expect_clean_failure("train --fixed-point --data " + data + " --prune-threshold 0.01 --out " + model,
                       "does not prune");
  expect_clean_failure("train --noise-reg -1", "--noise-reg");
  expect_clean_failure("train --data " + data + " --shift 28 --limit-train 10 --out " + model, "shift");
  expect_clean_failure("train --fixed-point --data " + data + " --shift 1 --out " + model, "augment");
  EXPECT_FALSE(exists(model));
}
