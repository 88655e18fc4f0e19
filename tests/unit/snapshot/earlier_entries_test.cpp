// EarlierEntries: an earlier layer's entries found by path, in order through the caller's
// cursor, else through an index made once.
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "snapshot/layer_writer.h"

namespace mkimg::snapshot {
namespace {

/// "d/f0000" ... in layer order, each entry's tar offset its number.
struct Listed {
  std::vector<std::string> paths;
  EarlierEntries entries;
  explicit Listed(int count) {
    for (int i = 0; i < count; ++i) paths.push_back("d/f" + std::to_string(10000 + i));
    entries.reserve(paths.size());
    for (int i = 0; i < count; ++i) entries.emplace(paths[i], EarlierEntry{"fp", i, 1});
  }
};

TEST(EarlierEntries, InOrderThroughTheCursorAndOutOfOrderThroughTheIndex) {
  Listed l(1000);
  std::size_t cursor = 0;
  for (int i = 0; i < 1000; ++i) {
    const EarlierEntry* e = l.entries.find(l.paths[i], cursor);
    ASSERT_NE(e, nullptr) << i;
    EXPECT_EQ(e->tar_offset, i);
    EXPECT_EQ(cursor, static_cast<std::size_t>(i) + 1);
  }
  // Skipping ahead, going back, a path it does not hold, without a cursor.
  cursor = 0;
  EXPECT_EQ(l.entries.find(l.paths[500], cursor)->tar_offset, 500);
  EXPECT_EQ(cursor, 501u);
  EXPECT_EQ(l.entries.find(l.paths[501], cursor)->tar_offset, 501);
  EXPECT_EQ(l.entries.find(l.paths[3], cursor)->tar_offset, 3);
  EXPECT_EQ(l.entries.find("d/new", cursor), nullptr);
  EXPECT_EQ(cursor, 4u) << "a miss leaves the cursor";
  EXPECT_EQ(l.entries.find(l.paths[999])->tar_offset, 999);
  EXPECT_EQ(l.entries.find("d"), nullptr);
}

TEST(EarlierEntries, APathListedTwiceIsItsFirstListingByTheIndex) {
  std::string a = "a", b = "b";
  EarlierEntries entries;
  entries.emplace(a, EarlierEntry{"1", 1, 1});
  entries.emplace(b, EarlierEntry{"2", 2, 1});
  entries.emplace(a, EarlierEntry{"3", 3, 1});
  EXPECT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries.find("a")->tar_offset, 1);
}

TEST(EarlierEntries, ACopyOrAMoveFindsTheSameEntries) {
  Listed l(100);
  EXPECT_EQ(l.entries.find(l.paths[42])->tar_offset, 42);  // indexed
  EarlierEntries copy = l.entries;
  EarlierEntries moved = std::move(copy);
  EarlierEntries assigned;
  assigned = moved;
  for (const EarlierEntries* e : {&l.entries, &moved, &assigned}) {
    EXPECT_EQ(e->size(), 100u);
    EXPECT_EQ(e->find(l.paths[7])->tar_offset, 7);
    EXPECT_EQ(e->find("d/none"), nullptr);
  }
}

TEST(EarlierEntries, ThreadsLookingUpAtOnceMakeOneIndexAndFindEveryEntry) {
  Listed l(20000);
  auto look = [&l](int from, int step, int* found) {
    std::size_t cursor = 0;
    for (int i = from; i >= 0 && i < 20000; i += step) {
      const EarlierEntry* e = l.entries.find(l.paths[i], cursor);
      if (e && e->tar_offset == i) ++*found;
    }
  };
  int up = 0, down = 0;
  std::thread a(look, 0, 3, &up);
  std::thread b(look, 19999, -2, &down);
  a.join();
  b.join();
  EXPECT_EQ(up, 6667);
  EXPECT_EQ(down, 10000);
}

}  // namespace
}  // namespace mkimg::snapshot
