#include "central/driver_keys.h"

#include <vector>

#include "gtest/gtest.h"

namespace evnet {
namespace {

TEST(DriverKeysTest, AKeyIsSavedWhenNewOrChangedAndReadBackAtStart) {
  std::vector<v1::DriverKey> saved;
  DriverKeys keys([&](const v1::DriverKey& key) { saved.push_back(key); });
  EXPECT_EQ(keys.KeyOf("driver-alice").status().code(), absl::StatusCode::kNotFound);

  keys.Learn("driver-alice", "key-1");
  keys.Learn("driver-alice", "key-1");  // every request: saved once
  ASSERT_EQ(saved.size(), 1u);
  EXPECT_EQ(saved[0].driver_id(), "driver-alice");
  EXPECT_EQ(saved[0].public_key(), "key-1");
  keys.Learn("driver-alice", "key-2");  // a renewed certificate
  ASSERT_EQ(saved.size(), 2u);
  EXPECT_EQ(*keys.KeyOf("driver-alice"), "key-2");

  // After a restart, what was saved is known again, and not saved twice.
  DriverKeys restarted([&](const v1::DriverKey& key) { saved.push_back(key); });
  for (const v1::DriverKey& key : std::vector<v1::DriverKey>(saved)) restarted.Restore(key);
  EXPECT_EQ(*restarted.KeyOf("driver-alice"), "key-2");
  restarted.Learn("driver-alice", "key-2");
  EXPECT_EQ(saved.size(), 2u);
}

}  // namespace
}  // namespace evnet
