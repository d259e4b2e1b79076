// StringColumn (include/salescycle/internal/string_column.h): a string
// attribute's values, each distinct value kept once while few, one string
// a slot once mostly distinct. Checked against a std::vector<std::string>.
#include "salescycle/internal/string_column.h"

#include <cstddef>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace salescycle {
namespace internal {
namespace {

// What an interned column should hold: the distinct values of its slots,
// and "" and the default, which it never lets go.
size_t ExpectedValues(const std::vector<std::string>& slots, const std::string& default_value) {
  std::set<std::string> values(slots.begin(), slots.end());
  values.insert("");
  values.insert(default_value);
  return values.size();
}

void ExpectSame(const StringColumn& column, const std::vector<std::string>& expected) {
  ASSERT_EQ(column.size(), expected.size());
  for (size_t slot = 0; slot < expected.size(); ++slot) {
    ASSERT_EQ(column[slot], expected[slot]) << "slot " << slot;
  }
}

TEST(StringColumn, MatchesAVectorOfStringsThroughSetsGrowthsAndShrinks) {
  for (const std::string default_value : {"", "inbound"}) {
    SCOPED_TRACE(default_value);
    std::mt19937 rng(7);
    StringColumn column(default_value);
    std::vector<std::string> expected;
    const std::vector<std::string> pool = {
        "", "inbound", "referral", "partner", "a lead source long enough for the heap",
        std::string("nul\0inside", 10)};
    for (int op = 0; op < 20000; ++op) {
      const int kind = rng() % 100;
      if (kind < 3) {
        const size_t n = rng() % 300;
        column.Resize(n);
        expected.resize(n, default_value);
      } else if (kind < 13 && !expected.empty()) {
        const size_t slot = rng() % expected.size();
        column.Reset(slot);
        expected[slot] = default_value;
      } else if (!expected.empty()) {
        const size_t slot = rng() % expected.size();
        const std::string& value = pool[rng() % pool.size()];
        column.Set(slot, value);
        expected[slot] = value;
      }
      if (op % 97 == 0) {
        ExpectSame(column, expected);
        ASSERT_TRUE(column.interned());
        ASSERT_EQ(column.interned_values(), ExpectedValues(expected, default_value));
      }
    }
    ExpectSame(column, expected);
    EXPECT_EQ(column.interned_values(), ExpectedValues(expected, default_value));
  }
}

TEST(StringColumn, ValuesNoSlotHoldsAreLetGoAndTheirPlacesReused) {
  StringColumn column("");
  column.Resize(4);
  const size_t before = column.MemoryUsage();
  for (int i = 0; i < 10000; ++i) {
    column.Set(i % 4, absl::StrCat(std::string(200, 'n'), i));  // on the heap
  }
  // Four notes held, and "": the 9,996 others were let go.
  EXPECT_EQ(column.interned_values(), 5u);
  for (size_t slot = 0; slot < 4; ++slot) column.Set(slot, "");
  EXPECT_EQ(column.interned_values(), 1u);
  EXPECT_TRUE(column.interned());
  // The places in the table stay (four of them), but not the notes' heap
  // copies, nor an index entry for them.
  EXPECT_LT(column.MemoryUsage(), before + 4 * 64 + 512);
  column.Set(0, "x");
  EXPECT_EQ(column[0], "x");
  EXPECT_EQ(column.interned_values(), 2u);
}

TEST(StringColumn, TurnsPlainPastAThirdOfItsSlotsAndStaysPlain) {
  // 3,072 slots: a third is 1,024. "" and the default count among the
  // values held.
  const size_t slots = 3 * StringColumn::kMinDistinctForPlain;
  StringColumn column("new");
  column.Resize(slots);
  std::vector<std::string> expected(slots, "new");
  for (size_t i = 0; i + 2 < StringColumn::kMinDistinctForPlain; ++i) {
    expected[i] = absl::StrCat("user", i, "@example.com");
    column.Set(i, expected[i]);
  }
  ASSERT_EQ(column.interned_values(), slots / 3);
  EXPECT_TRUE(column.interned());
  ExpectSame(column, expected);

  expected[slots - 1] = "one more";
  column.Set(slots - 1, expected[slots - 1]);
  EXPECT_FALSE(column.interned());
  EXPECT_EQ(column.interned_values(), 0u);
  ExpectSame(column, expected);

  // A value set to "" (what Pipeline::Remove does) takes its heap copy
  // along.
  column.Set(0, std::string(1000, 'x'));
  const size_t with_long = column.MemoryUsage();
  column.Set(0, "");
  EXPECT_LE(column.MemoryUsage() + 1000, with_long);

  // Plain for good, though every slot comes to hold one value again; new
  // slots still hold the default.
  for (size_t slot = 0; slot < slots; ++slot) column.Set(slot, "same");
  column.Resize(slots + 2);
  EXPECT_FALSE(column.interned());
  EXPECT_EQ(column[0], "same");
  EXPECT_EQ(column[slots + 1], "new");
  column.Reset(0);
  EXPECT_EQ(column[0], "new");
}

TEST(StringColumn, BelowTheMinimumItStaysInternedWhateverTheShare) {
  StringColumn column("");
  column.Resize(10);
  for (size_t slot = 0; slot < 10; ++slot) column.Set(slot, absl::StrCat("v", slot));
  EXPECT_TRUE(column.interned());
  EXPECT_EQ(column.interned_values(), 11u);
}

TEST(StringColumn, AFewValuesAmongManySlotsCostFourBytesASlot) {
  const size_t slots = size_t{1} << 17;  // no room to grow in its storage
  StringColumn column("");
  column.Resize(slots);
  for (size_t slot = 0; slot < slots; ++slot) {
    column.Set(slot, absl::StrCat("owner number ", slot % 50, " with a long enough name"));
  }
  EXPECT_TRUE(column.interned());
  // A std::string a slot was 32 bytes, and a heap copy each of these.
  EXPECT_LT(column.MemoryUsage(), slots * 4 + 8192);
  EXPECT_GE(column.MemoryUsage(), slots * 4);
}

TEST(StringColumn, AMovedColumnStillFindsItsValues) {
  StringColumn column("d");
  column.Resize(3);
  column.Set(0, "kept");
  std::vector<StringColumn> columns;
  columns.push_back(std::move(column));
  for (int i = 0; i < 8; ++i) columns.emplace_back("");  // moves columns[0] again
  StringColumn& moved = columns[0];
  moved.Set(1, "kept");  // found in the index, not held twice
  EXPECT_EQ(moved.interned_values(), 3u);
  EXPECT_EQ(moved[0], "kept");
  EXPECT_EQ(moved[1], "kept");
  EXPECT_EQ(moved[2], "d");
}

}  // namespace
}  // namespace internal
}  // namespace salescycle
