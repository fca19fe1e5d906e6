#include "api/boxed_optional.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace agentrollout::api {
namespace {

struct Store {
  std::string table;
  std::vector<std::string> columns;
  friend bool operator==(const Store&, const Store&) = default;
};

TEST(BoxedOptionalTest, EmptyCostsAPointerAndBehavesAsNullopt) {
  static_assert(sizeof(BoxedOptional<Store>) == sizeof(void*));
  BoxedOptional<Store> empty;
  EXPECT_FALSE(empty.has_value());
  EXPECT_FALSE(empty);
  EXPECT_TRUE(empty == std::nullopt);
  EXPECT_THROW(empty.value(), std::bad_optional_access);
  EXPECT_EQ(empty, BoxedOptional<Store>(std::nullopt));
  EXPECT_EQ(empty, BoxedOptional<Store>(std::optional<Store>()));
}

TEST(BoxedOptionalTest, CopiesAreDeepAndCompareByValue) {
  BoxedOptional<Store> a = Store{"flags", {"enabled"}};
  BoxedOptional<Store> b = a;
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(a, b);
  EXPECT_NE(&*a, &*b) << "a copy owns its own value";
  b->columns.push_back("percentage");
  EXPECT_NE(a, b);
  EXPECT_EQ(a->columns.size(), 1u);
  a = b;
  EXPECT_EQ(a, b);
  a = std::nullopt;
  EXPECT_FALSE(a.has_value());
  EXPECT_NE(a, b);
  a = a;  // self-assignment keeps the value (none here)
  EXPECT_FALSE(a.has_value());
  b = b;
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->table, "flags");
}

TEST(BoxedOptionalTest, AssignsAndEmplacesAsStdOptional) {
  BoxedOptional<Store> store;
  store = {"rows", {"a", "b"}};
  EXPECT_EQ(store.value(), (Store{"rows", {"a", "b"}}));
  Store& emplaced = store.emplace(Store{"other", {}});
  EXPECT_EQ(&emplaced, &*store);
  EXPECT_EQ(store->table, "other");
  BoxedOptional<Store> moved = std::move(store);
  EXPECT_EQ(moved->table, "other");
  moved.reset();
  EXPECT_FALSE(moved);
  BoxedOptional<Store> from_optional = std::optional<Store>(Store{"x", {}});
  EXPECT_EQ((*from_optional).table, "x");
}

}  // namespace
}  // namespace agentrollout::api
