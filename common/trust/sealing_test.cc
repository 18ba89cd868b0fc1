#include "common/trust/sealing.h"

#include <string>

#include "common/files.h"
#include "gtest/gtest.h"
#include "testing/test_pki.h"

namespace evnet {
namespace {

TEST(SealingTest, OnlyTheDriverOpensWhatIsSealedToItAndNothingAlteredOpens) {
  absl::StatusOr<std::string> pki =
      test::MakeTestPki("pki", {"driver driver-alice", "driver driver-bob"});
  ASSERT_TRUE(pki.ok()) << pki.status();
  const std::string dir = *pki;
  const std::string alice_key = *ReadFile(dir + "/driver/driver-alice.key");
  const std::string bob_key = *ReadFile(dir + "/driver/driver-bob.key");
  absl::StatusOr<std::string> alice = PublicKeyOf(*ReadFile(dir + "/driver/driver-alice.crt"));
  ASSERT_TRUE(alice.ok()) << alice.status();

  const std::string update = R"({"kind":"UPDATE_KIND_ENDED","ticket":{"amountEur":3.75}})";
  absl::StatusOr<std::string> sealed = Seal(*alice, update);
  ASSERT_TRUE(sealed.ok()) << sealed.status();
  EXPECT_EQ(sealed->find("amountEur"), std::string::npos);
  // Each sealing is new: the same update twice does not look the same.
  EXPECT_NE(*Seal(*alice, update), *sealed);

  absl::StatusOr<std::string> opened = Open(alice_key, *sealed);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(*opened, update);
  EXPECT_EQ(Open(bob_key, *sealed).status().code(), absl::StatusCode::kPermissionDenied);
  std::string altered = *sealed;
  altered[altered.size() - 20] ^= 1;
  EXPECT_EQ(Open(alice_key, altered).status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_FALSE(Open(alice_key, sealed->substr(0, 40)).ok());
  EXPECT_FALSE(Open(alice_key, "").ok());
  EXPECT_FALSE(Seal("not a key", update).ok());
  EXPECT_FALSE(PublicKeyOf("not a certificate").ok());
  EXPECT_EQ(*Open(alice_key, *Seal(*alice, "")), "");
}

TEST(SealingTest, ASealerAgreesOnceWithEachDriverForAWhileAndItsMessagesOpenAsAnyOther) {
  absl::StatusOr<std::string> pki =
      test::MakeTestPki("sealer", {"driver driver-alice", "driver driver-bob"});
  ASSERT_TRUE(pki.ok()) << pki.status();
  const std::string alice_key = *ReadFile(*pki + "/driver/driver-alice.key");
  const std::string alice = *PublicKeyOf(*ReadFile(*pki + "/driver/driver-alice.crt"));
  const std::string bob = *PublicKeyOf(*ReadFile(*pki + "/driver/driver-bob.crt"));
  // The ephemeral key a sealed message names: bytes 3 on, as long as its
  // length in bytes 1 and 2 says.
  auto ephemeral = [](const std::string& sealed) {
    const size_t length = (static_cast<unsigned char>(sealed[1]) << 8) |
                          static_cast<unsigned char>(sealed[2]);
    return sealed.substr(3, length);
  };

  Sealer sealer(/*reuse_limit=*/2);
  const std::string first = *sealer.Seal(alice, "one");
  const std::string second = *sealer.Seal(alice, "two");
  const std::string third = *sealer.Seal(alice, "three");  // past the limit: agreed anew
  const std::string to_bob = *sealer.Seal(bob, "one");
  EXPECT_EQ(ephemeral(first), ephemeral(second));
  EXPECT_NE(first, second);
  EXPECT_NE(ephemeral(third), ephemeral(first));
  EXPECT_NE(ephemeral(to_bob), ephemeral(first));

  Opener opener;
  EXPECT_EQ(*Open(alice_key, first), "one");
  EXPECT_EQ(*opener.Open(alice_key, first), "one");
  EXPECT_EQ(*opener.Open(alice_key, second), "two");  // the agreed key, kept
  EXPECT_EQ(*opener.Open(alice_key, third), "three");
  EXPECT_EQ(opener.Open(alice_key, to_bob).status().code(), absl::StatusCode::kPermissionDenied);
  std::string altered = second;
  altered.back() ^= 1;
  EXPECT_EQ(opener.Open(alice_key, altered).status().code(), absl::StatusCode::kPermissionDenied);

  // Alice renews her key (here: bob's stands in for her new one); what was
  // sealed to her old key just before still opens.
  const std::string renewed_key = *ReadFile(*pki + "/driver/driver-bob.key");
  EXPECT_EQ(*opener.Open(renewed_key, first), "one");
  EXPECT_EQ(*opener.Open(renewed_key, to_bob), "one");
  Opener fresh;  // never given alice's key
  EXPECT_FALSE(fresh.Open(renewed_key, first).ok());
}

}  // namespace
}  // namespace evnet
