// The JSON and CSV writers: exact text for known input, escaping, non-finite numbers.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>

#include "output/csv.h"
#include "output/json.h"
#include "resdyn.h"

using resdyn::output::Csv;
using resdyn::output::Json;

TEST(Json, NestedDocumentHasTheExpectedText) {
  Json j;
  j.begin_object()
      .field("depth", 15)
      .field("error", 0.25)
      .field("name", std::string("a \"quoted\"\nline"))
      .key("missing")
      .null()
      .field("nan", std::nan(""))
      .key("list")
      .values({1.0, 0.5})
      .key("empty")
      .begin_array()
      .end_array()
      .end_object();
  EXPECT_EQ(j.str(),
            "{\n  \"depth\": 15,\n  \"error\": 0.25,\n  \"name\": \"a \\\"quoted\\\"\\nline\",\n"
            "  \"missing\": null,\n  \"nan\": null,\n  \"list\": [\n    1,\n    0.5\n  ],\n  \"empty\": []\n}\n");
}

TEST(Json, NumbersReadBackToTheSameDouble) {
  const double values[] = {0.1, 1e-300, -123456789.0, 2.0 / 3.0, 5e-324};
  for (double v : values) {
    Json j;
    j.begin_array().value(v).end_array();
    const std::string text = j.str();  // "[\n  NUMBER\n]\n"
    EXPECT_EQ(std::strtod(text.c_str() + 1, nullptr), v) << text;
  }
}

TEST(Json, UnfinishedDocumentIsNotSaved) {
  Json j;
  j.begin_object();
  EXPECT_THROW(j.save(testing::TempDir() + "/unfinished.json"), resdyn::Error);
}

TEST(Csv, RowsQuotingAndNonFinite) {
  Csv c({"class", "name", "value"});
  c.row().cell(3).cell(std::string("plain")).cell(0.5);
  c.row().cell(4).cell(std::string("a,\"b\"")).cell(std::numeric_limits<double>::infinity());
  EXPECT_EQ(c.str(), "class,name,value\n3,plain,0.5\n4,\"a,\"\"b\"\"\",inf\n");
  const std::string path = testing::TempDir() + "/t.csv";
  c.save(path);
  std::ifstream f(path);
  std::string header;
  std::getline(f, header);
  EXPECT_EQ(header, "class,name,value");
}

TEST(Csv, IncompleteRowsAreRefused) {
  Csv c({"a", "b"});
  c.row().cell(1);
  EXPECT_THROW(c.row(), resdyn::Error);
  EXPECT_THROW(c.save(testing::TempDir() + "/bad.csv"), resdyn::Error);
  Csv d({"a"});
  EXPECT_THROW(d.cell(1), resdyn::Error);
}
