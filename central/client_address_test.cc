#include "central/client_address.h"

#include "gtest/gtest.h"

namespace evnet {
namespace {

TEST(TrustedProxiesTest, AddressesAndNetworksOfBothFamilies) {
  absl::StatusOr<TrustedProxies> proxies = TrustedProxies::Parse("10.0.0.7, 10.42.0.0/16,fd00::/8");
  ASSERT_TRUE(proxies.ok()) << proxies.status();
  EXPECT_TRUE(proxies->Trusts("10.0.0.7"));
  EXPECT_FALSE(proxies->Trusts("10.0.0.8"));
  EXPECT_TRUE(proxies->Trusts("10.42.255.1"));
  EXPECT_FALSE(proxies->Trusts("10.43.0.1"));
  EXPECT_TRUE(proxies->Trusts("fd12::1"));
  EXPECT_FALSE(proxies->Trusts("fe80::1"));
  EXPECT_FALSE(proxies->Trusts("not an address"));
  absl::StatusOr<TrustedProxies> odd = TrustedProxies::Parse("192.168.1.128/25");
  ASSERT_TRUE(odd.ok());
  EXPECT_TRUE(odd->Trusts("192.168.1.200"));
  EXPECT_FALSE(odd->Trusts("192.168.1.100"));
  EXPECT_TRUE(TrustedProxies::Parse("0.0.0.0/0")->Trusts("203.0.113.9"));
  EXPECT_TRUE(TrustedProxies::Parse("")->empty());
}

TEST(TrustedProxiesTest, BadEntriesAreNamed) {
  for (const char* bad : {"10.0.0.300", "10.0.0.0/33", "10.0.0.0/x", "ingress", "fd00::/129"}) {
    absl::StatusOr<TrustedProxies> proxies = TrustedProxies::Parse(bad);
    EXPECT_EQ(proxies.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(proxies.status().message().find(bad), std::string::npos) << proxies.status();
  }
}

TEST(TrustedProxiesTest, OnlyATrustedPeerSaysWhoItsClientWas) {
  TrustedProxies proxies = *TrustedProxies::Parse("10.0.0.7,10.0.0.8");
  // Anyone else's header is ignored: it could say anything.
  EXPECT_EQ(proxies.ClientOf("203.0.113.5", "198.51.100.1"), "203.0.113.5");
  // The proxy's client; entries before it are the client's own claims.
  EXPECT_EQ(proxies.ClientOf("10.0.0.7", "198.51.100.1"), "198.51.100.1");
  EXPECT_EQ(proxies.ClientOf("10.0.0.7", "1.2.3.4, 198.51.100.1"), "198.51.100.1");
  // Through two trusted proxies.
  EXPECT_EQ(proxies.ClientOf("10.0.0.7", "198.51.100.1, 10.0.0.8"), "198.51.100.1");
  // As some proxies write them: with a port, IPv6 in brackets.
  EXPECT_EQ(proxies.ClientOf("10.0.0.7", "198.51.100.1:4711"), "198.51.100.1");
  EXPECT_EQ(proxies.ClientOf("10.0.0.7", "[2001:db8::1]:4711"), "2001:db8::1");
  EXPECT_EQ(proxies.ClientOf("10.0.0.7", "2001:db8::1"), "2001:db8::1");
  EXPECT_EQ(proxies.ClientOf("10.0.0.7", "198.51.100.1, [10.0.0.8]:80"), "198.51.100.1");
  // Nothing usable: the peer itself.
  EXPECT_EQ(proxies.ClientOf("10.0.0.7", ""), "10.0.0.7");
  EXPECT_EQ(proxies.ClientOf("10.0.0.7", "unknown"), "10.0.0.7");
  EXPECT_EQ(TrustedProxies().ClientOf("10.0.0.7", "198.51.100.1"), "10.0.0.7");
}

}  // namespace
}  // namespace evnet
