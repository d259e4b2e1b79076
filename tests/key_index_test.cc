// The deal key and id indexes (src/key_index.h): keys stored once in an
// arena of blocks, ids in a chunked column, found through sets of deal
// indexes.
#include "src/key_index.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace salescycle {
namespace internal {
namespace {

TEST(KeyIndex, FindsKeysOfEveryLengthAndByte) {
  KeyIndex index;
  const std::string huge(3 << 20, 'x');  // past a block: a block of its own
  const std::string bytes("a\0\xff\x80", 4);
  const std::string long_length(300, 'y');  // a two-byte length
  ASSERT_TRUE(index.Insert("", 0));
  ASSERT_TRUE(index.Insert(huge, 1));
  ASSERT_TRUE(index.Insert(bytes, 70000));  // a slot in another chunk
  ASSERT_TRUE(index.Insert(long_length, 3));
  EXPECT_EQ(index.Find(""), 0u);
  EXPECT_EQ(index.Find(huge), 1u);
  EXPECT_EQ(index.Find(bytes), 70000u);
  EXPECT_EQ(index.Find(long_length), 3u);
  EXPECT_EQ(*index.KeyOf(1), huge);
  EXPECT_EQ(*index.KeyOf(70000), bytes);
  EXPECT_EQ(*index.KeyOf(3), long_length);
  EXPECT_FALSE(index.KeyOf(2).has_value());
  EXPECT_FALSE(index.KeyOf(999999).has_value());
  EXPECT_FALSE(index.Insert(bytes, 5));  // taken
  EXPECT_FALSE(index.Insert("other", 3));  // deal 3 has a key
  EXPECT_EQ(*index.KeyOf(3), long_length);
  EXPECT_EQ(index.size(), 4u);
}

TEST(KeyIndex, ManyKeysErasedAndGivenAgain) {
  KeyIndex index;
  const int n = 200000;
  for (int i = 0; i < n; ++i) ASSERT_TRUE(index.Insert(absl::StrCat("deal-", i), i));
  for (int i = 0; i < n; i += 2) index.Erase(i);
  index.Erase(n + 5);  // none: nothing happens
  for (int i = 0; i < n; ++i) {
    const std::string key = absl::StrCat("deal-", i);
    if (i % 2 == 0) {
      ASSERT_FALSE(index.Find(key).has_value()) << key;
      ASSERT_FALSE(index.KeyOf(i).has_value());
    } else {
      ASSERT_EQ(index.Find(key), static_cast<DealIndex>(i)) << key;
      ASSERT_EQ(*index.KeyOf(i), key);
    }
  }
  // A removed deal's key goes to another slot; its old slot takes a new key.
  ASSERT_TRUE(index.Insert("deal-0", n));
  ASSERT_TRUE(index.Insert("fresh", 0));
  EXPECT_EQ(index.Find("deal-0"), static_cast<DealIndex>(n));
  EXPECT_EQ(*index.KeyOf(0), "fresh");
  EXPECT_EQ(index.size(), static_cast<size_t>(n / 2 + 2));
}

TEST(IdIndex, EveryIdOnceAndErasedOnes) {
  IdIndex index;
  EXPECT_TRUE(index.empty());
  ASSERT_TRUE(index.Insert(0, 5));  // 0 is an id like any other
  ASSERT_TRUE(index.Insert(~uint64_t{0}, 70000));  // another chunk
  EXPECT_FALSE(index.Insert(0, 6));
  EXPECT_FALSE(index.Insert(9, 5));  // deal 5 has an id
  EXPECT_EQ(index.IdOf(5), uint64_t{0});
  EXPECT_EQ(index.Find(0), 5u);
  EXPECT_EQ(index.Find(~uint64_t{0}), 70000u);
  EXPECT_EQ(index.IdOf(5), uint64_t{0});
  EXPECT_FALSE(index.IdOf(6).has_value());
  EXPECT_FALSE(index.IdOf(1u << 30).has_value());
  const int n = 150000;
  for (int i = 0; i < n; ++i) ASSERT_TRUE(index.Insert(uint64_t{1} << 40 | i, 100000 + i));
  for (int i = 0; i < n; i += 3) index.Erase(100000 + i);
  for (int i = 0; i < n; ++i) {
    const auto found = index.Find(uint64_t{1} << 40 | i);
    if (i % 3 == 0) {
      ASSERT_FALSE(found.has_value()) << i;
      ASSERT_FALSE(index.IdOf(100000 + i).has_value());
    } else {
      ASSERT_EQ(found, static_cast<DealIndex>(100000 + i)) << i;
    }
  }
  ASSERT_TRUE(index.Insert(uint64_t{1} << 40, 100000));  // an erased id, to its old slot
  EXPECT_EQ(index.IdOf(100000), uint64_t{1} << 40);
}

TEST(KeyIndex, KeysAddedUnindexedAreFoundOnceIndexed) {
  // A load's way: every key added, then one index built for them all.
  KeyIndex index;
  ASSERT_TRUE(index.Insert("before", 0));  // indexed already
  for (int i = 1; i < 50000; ++i) ASSERT_TRUE(index.InsertUnindexed(absl::StrCat("k", i), i));
  EXPECT_FALSE(index.InsertUnindexed("other", 7));  // deal 7 has a key
  EXPECT_EQ(index.Reindex(), std::nullopt);
  EXPECT_EQ(index.Find("before"), 0u);
  for (int i = 1; i < 50000; ++i) ASSERT_EQ(index.Find(absl::StrCat("k", i)), DealIndex(i));
  EXPECT_EQ(index.size(), 50000u);
  ASSERT_TRUE(index.Insert("after", 50000));  // and it goes on as before
  EXPECT_EQ(index.Find("after"), 50000u);

  KeyIndex repeated;
  ASSERT_TRUE(repeated.InsertUnindexed("a", 0));
  ASSERT_TRUE(repeated.InsertUnindexed("b", 1));
  ASSERT_TRUE(repeated.InsertUnindexed("a", 2));
  const std::optional<DealIndex> deal = repeated.Reindex();
  ASSERT_TRUE(deal.has_value());
  EXPECT_EQ(*repeated.KeyOf(*deal), "a");
}

TEST(IdIndex, IdsAddedUnindexedAreFoundOnceIndexed) {
  IdIndex index;
  for (uint64_t i = 0; i < 50000; ++i) ASSERT_TRUE(index.InsertUnindexed(i * 7919, i));
  EXPECT_FALSE(index.InsertUnindexed(1, 3));
  EXPECT_EQ(index.Reindex(), std::nullopt);
  for (uint64_t i = 0; i < 50000; ++i) ASSERT_EQ(index.Find(i * 7919), DealIndex(i));
  EXPECT_FALSE(index.Find(1).has_value());

  IdIndex repeated;
  ASSERT_TRUE(repeated.InsertUnindexed(5, 10));
  ASSERT_TRUE(repeated.InsertUnindexed(6, 70000));  // another chunk
  ASSERT_TRUE(repeated.InsertUnindexed(5, 3));
  const std::optional<DealIndex> deal = repeated.Reindex();
  ASSERT_TRUE(deal.has_value());
  EXPECT_EQ(*repeated.IdOf(*deal), 5u);
}

}  // namespace
}  // namespace internal
}  // namespace salescycle
