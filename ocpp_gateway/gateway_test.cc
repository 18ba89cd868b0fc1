// The gateway's readiness (GET /readyz on its OCPP port), and how it makes
// a charger's connectors CPs, with a charger on a real WebSocket and a
// central of the test's on a loopback port, against librdkafka's
// in-process mock cluster.
#include "ocpp_gateway/gateway.h"

#include <cstdlib>
#include <map>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "boost/asio.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "boost/beast/websocket.hpp"
#include "common/grpc/grpc_server.h"
#include "common/kafka/topics.h"
#include "evnet/v1/central.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/mock_kafka.h"
#include "testing/process.h"

namespace evnet::ocpp {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace websocket = boost::beast::websocket;
using ::testing::HasSubstr;

// A plain HTTP GET to the gateway: the status and the body.
std::pair<int, std::string> Get(int port, const std::string& target) {
  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  socket.connect({asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)});
  http::request<http::empty_body> request(http::verb::get, target, 11);
  request.set(http::field::host, "127.0.0.1");
  http::write(socket, request);
  boost::beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(socket, buffer, response);
  return {response.result_int(), response.body()};
}

class GatewayTest : public ::testing::Test {
 protected:
  Gateway& Start(bool replace_when_fatal, const std::string& central = "127.0.0.1:1") {
    GatewayOptions options;
    options.listen = "127.0.0.1:0";
    options.central_address = central;  // by default never reached: no charger connects
    options.state_dir = std::string(std::getenv("TEST_TMPDIR")) + "/gateway";
    options.kafka.bootstrap_servers = cluster_.bootstrap();
    options.kafka.replace_when_fatal = replace_when_fatal;
    auto gateway = Gateway::Start(options);
    EXPECT_TRUE(gateway.ok()) << gateway.status();
    gateway_ = *std::move(gateway);
    return *gateway_;
  }

  test::MockKafkaCluster cluster_{{{kOcppChargersTopic, 1}, {kIdTokensTopic, 1}}};
  std::unique_ptr<Gateway> gateway_;  // destroyed before the cluster
};

TEST_F(GatewayTest, IsReadyOnceItListensAndNotWhileItsKafkaProducerHasFailedForGood) {
  Gateway& gateway = Start(/*replace_when_fatal=*/false);
  EXPECT_EQ(Get(gateway.port(), "/readyz"), std::make_pair(200, std::string("ready\n")));

  gateway.InjectKafkaFatalErrorForTesting("the broker fenced this producer");
  const auto [status, body] = Get(gateway.port(), "/readyz");
  EXPECT_EQ(status, 503);
  EXPECT_TRUE(absl::StrContains(body, "the Kafka producer failed for good")) << body;
  EXPECT_TRUE(absl::StrContains(body, "the broker fenced this producer")) << body;
  // Any other plain request is still refused as before.
  EXPECT_EQ(Get(gateway.port(), "/ocpp/CP-1").first, 400);
}

TEST_F(GatewayTest, IsReadyAgainOnceItsFailedKafkaProducerIsReplaced) {
  Gateway& gateway = Start(/*replace_when_fatal=*/true);
  gateway.InjectKafkaFatalErrorForTesting("the broker fenced this producer");
  EXPECT_EQ(Get(gateway.port(), "/readyz").first, 503);
  EXPECT_TRUE(test::WaitFor([&] { return Get(gateway.port(), "/readyz").first == 200; },
                            absl::Seconds(20)));
}

// Central as the CPs' monitors see it: registers every CP that links, keeps
// what each says, and sends it what the test asks.
class FakeCentral final : public v1::CentralService::Service {
 public:
  grpc::Status MonitorLink(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<v1::CentralCommand, v1::MonitorMessage>* stream) override {
    v1::MonitorMessage message;
    if (!stream->Read(&message) || !message.has_register_()) return grpc::Status::CANCELLED;
    const std::string cp = message.register_().cp_id();
    {
      absl::MutexLock lock(&mu_);
      streams_[cp] = stream;
      heard_[cp].push_back(message);
      v1::CentralCommand registered;
      registered.mutable_registered();
      stream->Write(registered);
    }
    while (stream->Read(&message)) {
      absl::MutexLock lock(&mu_);
      heard_[cp].push_back(message);
    }
    absl::MutexLock lock(&mu_);
    if (streams_[cp] == stream) streams_.erase(cp);
    return grpc::Status::OK;
  }
  bool Linked(const std::string& cp) {
    absl::MutexLock lock(&mu_);
    return streams_.count(cp) > 0;
  }
  bool Send(const std::string& cp, const v1::CentralCommand& command) {
    absl::MutexLock lock(&mu_);
    auto it = streams_.find(cp);
    return it != streams_.end() && it->second->Write(command);
  }
  // Whether `cp` said `what` (a MonitorMessage field that is set).
  bool Heard(const std::string& cp, const std::function<bool(const v1::MonitorMessage&)>& what) {
    absl::MutexLock lock(&mu_);
    for (const v1::MonitorMessage& m : heard_[cp]) {
      if (what(m)) return true;
    }
    return false;
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, grpc::ServerReaderWriter<v1::CentralCommand, v1::MonitorMessage>*>
      streams_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::vector<v1::MonitorMessage>> heard_ ABSL_GUARDED_BY(mu_);
};

// A charger on a plain WebSocket. The gateway's own CALLs that come
// between (TriggerMessage, GetLocalListVersion, ...) are answered as a
// charger without a local list would.
class TestCharger {
 public:
  TestCharger(int port, const std::string& id) : ws_(io_) {
    asio::ip::tcp::endpoint at(asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port));
    boost::beast::get_lowest_layer(ws_).connect(at);
    ws_.set_option(websocket::stream_base::decorator([](websocket::request_type& request) {
      request.set(http::field::sec_websocket_protocol, "ocpp1.6");
    }));
    ws_.handshake("127.0.0.1", "/ocpp/" + id);
    ws_.text(true);
  }
  // Says the CALL `frame` (its id `call_id`); the gateway's answer.
  std::string Ask(const std::string& call_id, const std::string& frame) {
    Say(frame);
    return Next([&](const std::string& heard) {
      return absl::StartsWith(heard, absl::StrCat("[3,\"", call_id, "\"")) ||
             absl::StartsWith(heard, absl::StrCat("[4,\"", call_id, "\""));
    });
  }
  // The next CALL of the gateway's with `action`.
  std::string HearCall(const std::string& action) {
    return Next([&](const std::string& heard) {
      return absl::StartsWith(heard, "[2,") &&
             absl::StrContains(heard, absl::StrCat("\"", action, "\""));
    });
  }
  // Answers the CALL `frame` with `payload`.
  void Answer(const std::string& frame, const std::string& payload) {
    const size_t open = frame.find('"');
    const size_t close = frame.find('"', open + 1);
    Say(absl::StrCat("[3,", frame.substr(open, close - open + 1), ",", payload, "]"));
  }

 private:
  void Say(const std::string& frame) { ws_.write(asio::buffer(frame)); }
  std::string Next(const std::function<bool(const std::string&)>& wanted) {
    for (int i = 0; i < 50; ++i) {
      boost::beast::flat_buffer buffer;
      ws_.read(buffer);
      std::string heard = boost::beast::buffers_to_string(buffer.data());
      if (wanted(heard)) return heard;
      if (absl::StrContains(heard, "\"GetLocalListVersion\"")) {
        Answer(heard, R"({"listVersion":-1})");
      } else if (absl::StartsWith(heard, "[2,")) {
        Answer(heard, R"({"status":"Accepted"})");
      }
    }
    return "";
  }

  asio::io_context io_;
  websocket::stream<boost::beast::tcp_stream> ws_;
};

TEST_F(GatewayTest, EachConnectorOfAChargerIsACpOfItsOwn) {
  FakeCentral central;
  GrpcServerOptions server_options;
  server_options.address = "127.0.0.1:0";
  server_options.services = {&central};
  absl::StatusOr<std::unique_ptr<GrpcServer>> server = GrpcServer::Start(server_options);
  ASSERT_TRUE(server.ok()) << server.status();
  Gateway& gateway = Start(false, absl::StrCat("127.0.0.1:", (*server)->port()));
  TestCharger charger(gateway.port(), "CB");
  EXPECT_THAT(charger.Ask("b", R"([2,"b","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}])"),
              HasSubstr(R"("status":"Accepted")"));
  ASSERT_TRUE(test::WaitFor([&] { return central.Linked("CB"); }, absl::Seconds(10)));
  EXPECT_FALSE(central.Linked("CB-2"));

  // Connector 2 named: CP CB-2 links to central, and its status is its own.
  EXPECT_EQ(charger.Ask("s2", R"([2,"s2","StatusNotification",{"connectorId":2,"errorCode":"GroundFailure","status":"Faulted"}])"),
            R"([3,"s2",{}])");
  ASSERT_TRUE(test::WaitFor([&] { return central.Linked("CB-2"); }, absl::Seconds(10)));
  auto faulted = [](const v1::MonitorMessage& m) {
    return m.has_health() && !m.health().engine_ok();
  };
  EXPECT_TRUE(test::WaitFor([&] { return central.Heard("CB-2", faulted); }, absl::Seconds(5)));
  EXPECT_FALSE(central.Heard("CB", faulted)) << "connector 2's fault is CB's";
  EXPECT_EQ(charger.Ask("s3", R"([2,"s3","StatusNotification",{"connectorId":2,"errorCode":"NoError","status":"Available"}])"),
            R"([3,"s3",{}])");

  // A driver's start at CB-2 is a remote start on connector 2; the
  // charger's Authorize of that driver is answered by CB-2, whose start waits.
  v1::CentralCommand start;
  start.set_command_id("start-s-9");
  start.mutable_start_supply()->set_session_id("s-9");
  start.mutable_start_supply()->set_request_id("9");
  start.mutable_start_supply()->set_driver_id("driver-dan");
  start.mutable_start_supply()->set_telemetry_key(std::string(32, 'k'));
  ASSERT_TRUE(central.Send("CB-2", start));
  const std::string remote = charger.HearCall("RemoteStartTransaction");
  EXPECT_THAT(remote, HasSubstr(R"({"connectorId":2,"idTag":"driver-dan"})"));
  charger.Answer(remote, R"({"status":"Accepted"})");
  EXPECT_EQ(charger.Ask("a", R"([2,"a","Authorize",{"idTag":"driver-dan"}])"),
            R"([3,"a",{"idTagInfo":{"status":"Accepted"}}])");
  EXPECT_EQ(charger.Ask("t", R"([2,"t","StartTransaction",{"connectorId":2,"idTag":"driver-dan","meterStart":100,"timestamp":"2027-01-15T08:00:00Z"}])"),
            R"([3,"t",{"idTagInfo":{"status":"Accepted"},"transactionId":2000001}])");
  auto supplying = [](const v1::MonitorMessage& m) {
    return m.has_health() && m.health().supply().session_id() == "s-9";
  };
  EXPECT_TRUE(test::WaitFor([&] { return central.Heard("CB-2", supplying); }, absl::Seconds(5)));
  EXPECT_FALSE(central.Heard("CB", supplying));
}

}  // namespace
}  // namespace evnet::ocpp
