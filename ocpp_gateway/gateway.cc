#include "ocpp_gateway/gateway.h"

#include <algorithm>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <thread>
#include <variant>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "boost/asio.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "boost/asio/ssl.hpp"
#include "boost/beast/ssl.hpp"
#include "boost/beast/websocket.hpp"
#include "boost/beast/websocket/ssl.hpp"
#include "common/files.h"
#include "common/grpc/grpc_channel.h"
#include "common/grpc/monitor_uplink.h"
#include "common/grpc/reconnect_backoff.h"
#include "common/trust/transport_security.h"
#include "common/validation.h"
#include "glog/logging.h"
#include "ocpp_gateway/charger.h"
#include "ocpp_gateway/charger_auth.h"
#include "ocpp_gateway/chargers_file.h"
#include "ocpp_gateway/journal_store.h"
#include "ocpp_gateway/local_list.h"
#include "ocpp/v16/messages.pb.h"
#include "openssl/pem.h"
#include "openssl/ssl.h"

namespace evnet::ocpp {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

constexpr absl::string_view kPathPrefix = "/ocpp/";
// A plain GET here (no upgrade) answers 200 when ready, 503 and why if not.
constexpr absl::string_view kReadyPath = "/readyz";
constexpr absl::string_view kSubprotocol = "ocpp1.6";
// OCPP 1.6 messages are small; a bigger one is hostile, and closes the socket.
constexpr size_t kMaxMessageBytes = 64 * 1024;
// A charger's connectors the gateway makes CPs of, at most (a hostile one
// could name any number).
constexpr int32_t kMaxConnectors = 32;

}  // namespace

class Connection;
class Station;

// One CP: a connector of a charger (ConnectorCpId), with its Charger and
// its MonitorLink.
class Slot final : public ChargerLinks {
 public:
  Slot(Gateway::Impl& gateway, Station& station, std::string id)
      : gateway(gateway), station(station), id(std::move(id)) {}

  void SendToCharger(const std::string& frame) override;
  bool SendToCentral(const v1::MonitorMessage& message) override;
  void Publish(absl::string_view topic, const std::string& key, const std::string& value,
               std::function<void(absl::Status)> done) override;
  void ShareJournal(const v1::OcppChargerJournal& journal,
                    std::function<void(absl::Status)> done) override;

  Gateway::Impl& gateway;
  Station& station;
  const std::string id;
  std::unique_ptr<Charger> charger;  // network thread
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::CentralService::Stub> stub;
  absl::Time link_at = absl::InfinitePast();  // network thread: when to (re)link (steady)
  int link_failures = 0;                      // network thread
  absl::Time link_started;                    // network thread: the attempt's (steady)
  bool link_registered = false;               // network thread
  ReconnectBackoff backoff;                   // network thread

  absl::Mutex mu;
  MonitorUplink* uplink ABSL_GUARDED_BY(mu) = nullptr;
};

// One chargeBoxId: its current WebSocket, the queue of CALLs to it, and the
// CPs of its connectors, to which it hands each frame of the charger's: by
// connectorId; MeterValues and StopTransaction by their transaction (a stop
// without a known one by its idTag); Authorize to the CP a remote start of
// that idTag waits at; the rest (BootNotification, Heartbeat, ...) to
// connector 1, the charger's own CP. A StatusNotification of connector 0
// applies to every connector. Everything here is the network thread's.
class Station {
 public:
  Station(Gateway::Impl& gateway, std::string id)
      : gateway(gateway),
        id(std::move(id)),
        calls(this->id, [this](const std::string& frame) { Send(frame); }) {}

  void OnFrame(const std::string& text);
  void Send(const std::string& frame);
  // Connector n's CP, made when first named; nullptr (and why, logged once
  // per connection) when the gateway cannot speak for it: the charger's own
  // CP then bills that connector's transactions.
  Slot* Connector(int32_t n);
  Slot& First() { return *connectors.at(1); }

  Gateway::Impl& gateway;
  const std::string id;
  std::shared_ptr<Connection> connection;  // null while away
  uint64_t generation = 0;                 // one per connection
  CallQueue calls;
  std::map<int32_t, std::unique_ptr<Slot>> connectors;  // by connector id; 1 always
  // Connectors the gateway could not speak for on this connection (logged once).
  std::set<int32_t> refused;
};

class Gateway::Impl {
 public:
  explicit Impl(GatewayOptions options)
      : options_(std::move(options)), acceptor_(io_), tick_(io_) {}

  absl::Status Start();
  void Stop();
  int port() const { return port_; }

  // From a Connection, on the network thread.
  // The charger's station, or why this connection may not speak for it.
  absl::StatusOr<Station*> Attach(const std::string& id, std::shared_ptr<Connection> connection);
  void Detach(Station& station, const Connection* connection);
  // Connector n's CP of `station`, made and, while the charger is here,
  // linked to central; or why the gateway cannot speak for it.
  absl::StatusOr<Slot*> AddConnector(Station& station, int32_t n);

  // OK while the gateway can serve its chargers: it listens only once every
  // journal is read, and its Kafka producer has not failed for good (a
  // failed one is replaced, and until then no result or journal is kept).
  absl::Status Readiness() const;

  asio::io_context& io() { return io_; }
  KafkaProducer& producer() { return *producer_; }
  JournalStore& journals() { return *journals_; }
  const GatewayOptions& options() const { return options_; }

 private:
  void Accept();
  void Tick();
  void Link(Slot& slot);
  void Unlink(Slot& slot);
  // The charger's WebSocket is gone: its links end, its calls fail.
  void Disconnected(Station& station);

  const GatewayOptions options_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  asio::steady_timer tick_;
  std::unique_ptr<asio::ssl::context> tls_;  // null: plain WebSockets
  std::unique_ptr<KafkaProducer> producer_;
  std::unique_ptr<JournalStore> journals_;
  std::unique_ptr<LocalList> local_list_;  // null: no local lists pushed
  std::optional<ChargersFile> chargers_;    // set by Start; network thread
  std::map<std::string, std::unique_ptr<Station>> stations_;  // network thread, by chargeBoxId
  std::map<std::string, Slot*> cps_;  // network thread: every station's CPs, by CP id
  std::shared_ptr<grpc::Channel> shared_channel_;       // --insecure: one for all
  std::thread thread_;
  int port_ = 0;
};

// A charger's WebSocket, as its slot sees it.
class Connection {
 public:
  virtual ~Connection() = default;
  virtual void Send(std::string frame) = 0;
  virtual void Close() = 0;
  virtual const std::string& peer() const = 0;
};

// One charger's WebSocket over `Stream` (TCP, or TLS over TCP): the TLS
// handshake, the HTTP upgrade with its path, subprotocol and identity
// checked, then frames read and a queue written one write at a time.
template <typename Stream>
class Socket final : public Connection, public std::enable_shared_from_this<Socket<Stream>> {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

  template <typename... TlsContext>
  Socket(tcp::socket socket, Gateway::Impl& gateway, TlsContext&... tls)
      : ws_(std::move(socket), tls...), gateway_(gateway) {}

  void Run() {
    beast::error_code ignored;
    auto endpoint = beast::get_lowest_layer(ws_).socket().remote_endpoint(ignored);
    peer_ = absl::StrCat(endpoint.address().to_string(), ":", endpoint.port());
    beast::get_lowest_layer(ws_).expires_after(std::chrono::seconds(10));
    if constexpr (kTls) {
      ws_.next_layer().async_handshake(
          asio::ssl::stream_base::server, [self = this->shared_from_this()](beast::error_code error) {
            if (error) {
              LOG(WARNING) << "OCPP | TLS handshake with " << self->peer_
                           << " failed: " << error.message();
              return;
            }
            self->ReadRequest();
          });
    } else {
      ReadRequest();
    }
  }

  void Send(std::string frame) override {
    if (!open_) return;
    out_.push_back(std::move(frame));
    if (out_.size() == 1) WriteNext();
  }

  void Close() override {
    if (!open_) return;
    open_ = false;
    ws_.async_close(websocket::close_code::going_away,
                    [self = this->shared_from_this()](beast::error_code) {});
  }

  const std::string& peer() const override { return peer_; }

 private:
  void ReadRequest() {
    http::async_read(ws_.next_layer(), buffer_, request_,
                     [self = this->shared_from_this()](beast::error_code error, size_t) {
                       if (!error) self->OnRequest();
                     });
  }

  void Refuse(http::status status, const std::string& why) {
    LOG(WARNING) << "OCPP | Refused a connection from " << peer_ << " to "
                 << std::string(request_.target()).substr(0, 100) << ": " << why;
    Respond(status, why);
  }

  // One plain-text answer, then the connection closes.
  void Respond(http::status status, const std::string& body) {
    auto response = std::make_shared<http::response<http::string_body>>(status, request_.version());
    response->set(http::field::content_type, "text/plain");
    if (status == http::status::unauthorized) {
      response->set(http::field::www_authenticate, "Basic realm=\"evnet OCPP\"");
    }
    response->body() = body + "\n";
    response->keep_alive(false);
    response->prepare_payload();
    http::async_write(ws_.next_layer(), *response,
                      [self = this->shared_from_this(), response](beast::error_code, size_t) {
                        beast::error_code ignored;
                        beast::get_lowest_layer(self->ws_).socket().shutdown(
                            tcp::socket::shutdown_both, ignored);
                      });
  }

  // The client certificate the handshake verified, as PEM; empty if none.
  std::string PeerCertificate() {
    if constexpr (kTls) {
      X509* cert = SSL_get_peer_certificate(ws_.next_layer().native_handle());
      if (cert == nullptr) return "";
      std::string pem;
      if (BIO* bio = BIO_new(BIO_s_mem())) {
        if (PEM_write_bio_X509(bio, cert) == 1) {
          char* data = nullptr;
          const long size = BIO_get_mem_data(bio, &data);
          pem.assign(data, size);
        }
        BIO_free(bio);
      }
      X509_free(cert);
      return pem;
    } else {
      return "";
    }
  }

  void OnRequest() {
    const absl::string_view target(request_.target().data(), request_.target().size());
    if (!websocket::is_upgrade(request_)) {
      if (request_.method() == http::verb::get && target == kReadyPath) {
        const absl::Status ready = gateway_.Readiness();
        return Respond(ready.ok() ? http::status::ok : http::status::service_unavailable,
                       ready.ok() ? "ready" : std::string(ready.message()));
      }
      return Refuse(http::status::bad_request, "this is an OCPP-J endpoint: upgrade to a WebSocket");
    }
    std::string id;
    if (absl::StartsWith(target, kPathPrefix)) id = std::string(target.substr(kPathPrefix.size()));
    if (absl::Status valid = ValidateId("chargeBoxId", id); !valid.ok()) {
      return Refuse(http::status::not_found,
                    absl::StrCat("connect to /ocpp/<chargeBoxId>: ", valid.message()));
    }
    bool offered = false;
    for (absl::string_view protocol :
         absl::StrSplit(std::string(request_[http::field::sec_websocket_protocol]), ',')) {
      offered = offered || absl::StripAsciiWhitespace(protocol) == kSubprotocol;
    }
    if (!offered) {
      return Refuse(http::status::bad_request, "the subprotocol ocpp1.6 is required");
    }
    if constexpr (kTls) {
      // Pinned to the certificate the gateway speaks for the charger with,
      // which central checks is the enrolled one (read at each connection,
      // so a renewal takes at once).
      std::string enrolled;
      if (!gateway_.options().pki_dir.empty()) {
        absl::StatusOr<std::string> held =
            ReadFile(absl::StrCat(gateway_.options().pki_dir, "/cp/", id, ".crt"));
        if (!held.ok()) {
          return Refuse(http::status::forbidden,
                        absl::StrCat("this gateway holds no certificate for ", id,
                                     ": it cannot speak for it"));
        }
        enrolled = *std::move(held);
      }
      absl::Status allowed = AuthorizeCharger(
          id, PeerCertificate(),
          absl::string_view(request_[http::field::authorization].data(),
                            request_[http::field::authorization].size()),
          gateway_.options().credentials_file, enrolled);
      if (!allowed.ok()) {
        return Refuse(absl::IsPermissionDenied(allowed) ? http::status::forbidden
                                                        : http::status::unauthorized,
                      std::string(allowed.message()));
      }
    }
    id_ = id;
    beast::get_lowest_layer(ws_).expires_never();
    websocket::stream_base::timeout timeout;
    timeout.handshake_timeout = std::chrono::seconds(10);
    // Pings a silent charger; one that answers nothing within 30 s is gone.
    timeout.idle_timeout = std::chrono::seconds(30);
    timeout.keep_alive_pings = true;
    ws_.set_option(timeout);
    ws_.set_option(websocket::stream_base::decorator([](websocket::response_type& response) {
      response.set(http::field::sec_websocket_protocol, std::string(kSubprotocol));
      response.set(http::field::server, "evnet-ocpp-gateway");
    }));
    ws_.read_message_max(kMaxMessageBytes);
    ws_.text(true);
    ws_.async_accept(request_, [self = this->shared_from_this()](beast::error_code error) {
      self->OnAccepted(error);
    });
  }

  void OnAccepted(beast::error_code error) {
    if (error) {
      LOG(WARNING) << "OCPP | WebSocket handshake with " << peer_ << " failed: " << error.message();
      return;
    }
    absl::StatusOr<Station*> station = gateway_.Attach(id_, this->shared_from_this());
    if (!station.ok()) {
      LOG(WARNING) << "OCPP | Closed " << id_ << " from " << peer_ << ": "
                   << station.status().message();
      ws_.async_close(websocket::close_code::policy_error,
                      [self = this->shared_from_this()](beast::error_code) {});
      return;
    }
    station_ = *station;
    open_ = true;
    Read();
  }

  void Read() {
    ws_.async_read(buffer_, [self = this->shared_from_this()](beast::error_code error, size_t) {
      self->OnRead(error);
    });
  }

  void OnRead(beast::error_code error) {
    if (error) {
      if (open_ || error != websocket::error::closed) {
        LOG(WARNING) << "OCPP:" << id_ << " | WebSocket from " << peer_
                     << " closed: " << error.message();
      }
      open_ = false;
      gateway_.Detach(*station_, this);
      return;
    }
    const std::string text = beast::buffers_to_string(buffer_.data());
    buffer_.consume(buffer_.size());
    if (!ws_.got_text()) {
      Send(EncodeCallError("-1", {ErrorCode::kFormationViolation, "OCPP-J frames are text"}));
    } else if (station_->connection.get() == this) {
      station_->OnFrame(text);
    }
    Read();
  }

  void WriteNext() {
    ws_.async_write(asio::buffer(out_.front()),
                    [self = this->shared_from_this()](beast::error_code error, size_t) {
                      self->out_.pop_front();
                      if (error) {
                        self->out_.clear();
                        return;
                      }
                      if (!self->out_.empty() && self->open_) self->WriteNext();
                    });
  }

  websocket::stream<Stream> ws_;
  Gateway::Impl& gateway_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  std::deque<std::string> out_;
  std::string peer_;
  std::string id_;
  Station* station_ = nullptr;
  bool open_ = false;
};

void Slot::SendToCharger(const std::string& frame) { station.Send(frame); }

bool Slot::SendToCentral(const v1::MonitorMessage& message) {
  absl::MutexLock lock(&mu);
  if (uplink == nullptr) return false;
  uplink->Write(message);
  return true;
}

// `done` posted to the network thread, from Kafka's.
std::function<void(absl::Status)> OnNetworkThread(asio::io_context& io,
                                                  std::function<void(absl::Status)> done) {
  return [&io, done = std::move(done)](absl::Status status) {
    asio::post(io, [done, status] { done(status); });
  };
}

void Slot::Publish(absl::string_view topic, const std::string& key, const std::string& value,
                   std::function<void(absl::Status)> done) {
  auto reported = OnNetworkThread(gateway.io(), std::move(done));
  absl::Status queued = gateway.producer().Produce(topic, key, value, reported);
  if (!queued.ok()) reported(queued);
}

void Slot::ShareJournal(const v1::OcppChargerJournal& journal,
                        std::function<void(absl::Status)> done) {
  gateway.journals().Save(journal, OnNetworkThread(gateway.io(), std::move(done)));
}

absl::Status Gateway::Impl::Start() {
  if (absl::Status made = MakePrivateDir(options_.state_dir); !made.ok()) return made;
  if (!options_.tls_cert_file.empty()) {
    tls_ = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
    boost::system::error_code error;
    tls_->set_options(asio::ssl::context::no_sslv2 | asio::ssl::context::no_sslv3 |
                      asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
    tls_->use_certificate_chain_file(options_.tls_cert_file, error);
    if (!error) tls_->use_private_key_file(options_.tls_key_file, asio::ssl::context::pem, error);
    if (!error) tls_->load_verify_file(options_.tls_ca_file, error);
    if (error) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot use the gateway's certificate for wss: ", error.message()));
    }
    // A client certificate is asked for and, if one comes, must chain to
    // the network's CA (profile 3); without one, a password (profile 2).
    tls_->set_verify_mode(asio::ssl::verify_peer);
  }
  absl::StatusOr<ChargersFile> chargers = ChargersFile::Open(options_.chargers_file, options_.defaults);
  if (!chargers.ok()) return chargers.status();
  chargers_ = *std::move(chargers);
  absl::StatusOr<std::unique_ptr<KafkaProducer>> producer = KafkaProducer::Create(options_.kafka);
  if (!producer.ok()) return producer.status();
  producer_ = *std::move(producer);
  // Every charger's journal, before any charger is let in.
  for (int attempt = 0;; ++attempt) {
    absl::StatusOr<std::unique_ptr<JournalStore>> journals =
        JournalStore::Start(options_.kafka.bootstrap_servers, *producer_, absl::Seconds(30));
    if (journals.ok()) {
      journals_ = *std::move(journals);
      break;
    }
    if (attempt == 0) {
      LOG(WARNING) << "OCPP | " << journals.status().message() << "; waiting for it";
    }
    absl::SleepFor(absl::Seconds(1));
  }
  // Drivers' cards for the chargers' local lists: without them, chargers
  // still ask for every card (Authorize), so the gateway goes on.
  if (options_.local_lists) {
    absl::StatusOr<std::unique_ptr<LocalList>> local_list =
        LocalList::Follow(options_.kafka.bootstrap_servers, absl::Seconds(10));
    if (local_list.ok()) {
      local_list_ = *std::move(local_list);
    } else {
      LOG(WARNING) << "OCPP | No local authorization lists for the chargers: "
                   << local_list.status().message();
    }
  }
  if (options_.pki_dir.empty()) {
    shared_channel_ = MakeCentralChannel(options_.central_address, TransportSecurity::Insecure());
  }

  std::vector<std::string> parts = absl::StrSplit(options_.listen, absl::MaxSplits(':', 1));
  int port = -1;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[1], &port) || port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--listen ", options_.listen, " is not HOST:PORT"));
  }
  boost::system::error_code error;
  const asio::ip::address address = asio::ip::make_address(parts[0], error);
  if (error) {
    return absl::InvalidArgumentError(absl::StrCat("--listen ", options_.listen, ": ", error.message()));
  }
  const tcp::endpoint endpoint(address, static_cast<uint16_t>(port));
  acceptor_.open(endpoint.protocol(), error);
  if (!error) acceptor_.set_option(asio::socket_base::reuse_address(true), error);
  if (!error) acceptor_.bind(endpoint, error);
  if (!error) acceptor_.listen(asio::socket_base::max_listen_connections, error);
  if (error) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options_.listen, ": ",
                                               error.message()));
  }
  port_ = acceptor_.local_endpoint().port();
  Accept();
  Tick();
  thread_ = std::thread([this] { io_.run(); });
  return absl::OkStatus();
}

void Gateway::Impl::Stop() {
  if (!thread_.joinable()) return;
  asio::post(io_, [this] {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    tick_.cancel();
    for (auto& [id, station] : stations_) {
      if (station->connection != nullptr) station->connection->Close();
    }
    for (auto& [id, slot] : cps_) Unlink(*slot);
    // Every link's end, before the channels and slots it uses go. The ends
    // arrive on gRPC's threads, so waiting here blocks nothing they need.
    for (auto& [id, slot] : cps_) {
      absl::MutexLock lock(&slot->mu);
      auto unlinked = [s = slot]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu) {
        return s->uplink == nullptr;
      };
      slot->mu.AwaitWithTimeout(absl::Condition(&unlinked), absl::Seconds(2));
    }
    io_.stop();
  });
  thread_.join();
  if (absl::Status flushed = producer_->Flush(absl::Seconds(5)); !flushed.ok()) {
    LOG(WARNING) << "OCPP | " << flushed << "; the chargers send their results again";
  }
}

void Gateway::Impl::Accept() {
  acceptor_.async_accept([this](beast::error_code error, tcp::socket socket) {
    if (error == asio::error::operation_aborted) return;
    if (!error) {
      socket.set_option(tcp::no_delay(true), error);
      if (tls_ != nullptr) {
        std::make_shared<Socket<beast::ssl_stream<beast::tcp_stream>>>(std::move(socket), *this,
                                                                       *tls_)
            ->Run();
      } else {
        std::make_shared<Socket<beast::tcp_stream>>(std::move(socket), *this)->Run();
      }
    }
    Accept();
  });
}

absl::StatusOr<Slot*> Gateway::Impl::AddConnector(Station& station, int32_t n) {
  const std::string id = ConnectorCpId(station.id, n);
  if (auto held = cps_.find(id); held != cps_.end()) {
    if (&held->second->station == &station) return held->second;
    // A charger whose chargeBoxId is another's connector's CP id.
    return absl::AlreadyExistsError(absl::StrCat(
        "CP ", id, " is already served here as connector ", held->second->charger->connector_id(),
        " of charger ", held->second->station.id));
  }
  if (absl::Status valid = ValidateId("cp_id", id); !valid.ok()) return valid;
  auto slot = std::make_unique<Slot>(*this, station, id);
  ChargerOptions charger;
  charger.info = chargers_->InfoOf(id, station.id);
  charger.connector_id = n;
  charger.calls = &station.calls;
  charger.heartbeat_interval_s = options_.heartbeat_interval_s;
  charger.call_timeout = options_.call_timeout;
  charger.meter_silence = options_.meter_silence;
  charger.stop_grace = options_.stop_grace;
  charger.clock = options_.clock;
  charger.journal_path = absl::StrCat(options_.state_dir, "/", id, ".json");
  // The list is the charger's, kept by its first connector's CP.
  charger.local_list = n == 1 ? local_list_.get() : nullptr;
  if (options_.pki_dir.empty()) {
    slot->channel = shared_channel_;
  } else {
    TransportSecurity security = TransportSecurity::FromDir(options_.pki_dir, kRoleCp, id);
    absl::StatusOr<std::string> key = ReadFile(security.key_file);
    if (!key.ok()) {
      return absl::PermissionDeniedError(absl::StrCat(
          "no certificate for ", id, " (", security.cert_file, "): issue one and enrol it ",
          n == 1 ? "(tools/ev add-ocpp) to let this charger in"
                 : "(tools/ev add-ocpp --connectors) to let this connector charge"));
    }
    charger.key_pem = *std::move(key);
    slot->channel = MakeDedicatedChannel(options_.central_address, security,
                                         static_cast<int>(cps_.size()));
  }
  slot->stub = v1::CentralService::NewStub(slot->channel);
  slot->charger = std::make_unique<Charger>(std::move(charger), *slot);
  if (absl::Status recovered = slot->charger->Recover(journals_->Latest(id)); !recovered.ok()) {
    return recovered;
  }
  Slot* made = slot.get();
  station.connectors.emplace(n, std::move(slot));
  cps_.emplace(id, made);
  if (station.connection != nullptr) {
    LOG(INFO) << "OCPP:" << station.id << " | Connector " << n << " is CP " << id;
    made->link_failures = 0;
    Link(*made);
  }
  return made;
}

absl::StatusOr<Station*> Gateway::Impl::Attach(const std::string& id,
                                               std::shared_ptr<Connection> connection) {
  auto it = stations_.find(id);
  if (it == stations_.end()) {
    auto station = std::make_unique<Station>(*this, id);
    if (absl::StatusOr<Slot*> first = AddConnector(*station, 1); !first.ok()) {
      return first.status();
    }
    it = stations_.emplace(id, std::move(station)).first;
  }
  Station& station = *it->second;
  // The connectors it had (any gateway's journals say whose connector each
  // CP is), before any frame of the charger's: a stop it held for one of
  // them finds its transaction.
  for (const std::string& cp : journals_->IdsStartingWith(absl::StrCat(id, "-"))) {
    std::optional<v1::OcppChargerJournal> journal = journals_->Latest(cp);
    if (journal.has_value() && journal->charger_id() == id && journal->connector_id() >= 2 &&
        station.connectors.count(journal->connector_id()) == 0) {
      if (absl::StatusOr<Slot*> made = AddConnector(station, journal->connector_id());
          !made.ok()) {
        LOG(WARNING) << "OCPP:" << id << " | Connector " << journal->connector_id() << ": "
                     << made.status().message();
      }
    }
  }
  // Another gateway may have served it since it was last here.
  for (auto& [n, slot] : station.connectors) slot->charger->Adopt(journals_->Latest(slot->id));
  if (station.connection != nullptr) {
    // The newest connection speaks for the charger (it reconnected before
    // the old socket was found dead).
    LOG(WARNING) << "OCPP:" << id << " | Connected again from " << connection->peer()
                 << "; the older connection from " << station.connection->peer() << " is closed";
    station.connection->Close();
    Disconnected(station);
  }
  station.connection = std::move(connection);
  ++station.generation;
  station.refused.clear();  // a connector enrolled since is served from now on
  LOG(INFO) << "OCPP:" << id << " | Charger connected from " << station.connection->peer();
  for (auto& [n, slot] : station.connectors) {
    slot->link_failures = 0;
    Link(*slot);
  }
  return &station;
}

void Gateway::Impl::Disconnected(Station& station) {
  for (auto& [n, slot] : station.connectors) Unlink(*slot);
  station.calls.Disconnected();
  for (auto& [n, slot] : station.connectors) slot->charger->Disconnected();
}

void Gateway::Impl::Detach(Station& station, const Connection* connection) {
  if (station.connection.get() != connection) return;  // a replaced one
  LOG(WARNING) << "OCPP:" << station.id << " | Charger disconnected";
  station.connection.reset();
  ++station.generation;
  Disconnected(station);
}

void Gateway::Impl::Link(Slot& slot) {
  absl::MutexLock lock(&slot.mu);
  if (slot.uplink != nullptr) return;
  slot.link_at = absl::InfiniteFuture();
  slot.link_started = options_.clock->Steady();
  slot.link_registered = false;
  Slot* s = &slot;
  const uint64_t generation = slot.station.generation;
  slot.uplink = MonitorUplink::Start(
      slot.stub.get(), slot.charger->Hello(),
      {[this, s, generation](MonitorUplink&, const v1::CentralCommand& command) {
         asio::post(io_, [s, generation, command] {
           if (s->station.generation != generation) return;
           if (command.has_registered()) {
             s->link_failures = 0;
             s->link_registered = true;
           }
           s->charger->OnCommand(command);
         });
       },
       [this, s](MonitorUplink* uplink, const grpc::Status& status) {
         {
           absl::MutexLock lock(&s->mu);
           if (s->uplink == uplink) s->uplink = nullptr;
         }
         asio::post(io_, [this, s, status] {
           if (s->station.connection == nullptr) return;
           // As cp_monitor does (common/grpc/reconnect_backoff.h).
           if (s->link_failures == 0) {
             LOG(WARNING) << "OCPP:" << s->id << " | Link to central ended: "
                          << status.error_message() << "; linking again";
           }
           ++s->link_failures;
           const absl::Time now = options_.clock->Steady();
           s->link_at = now + s->backoff.Next(s->link_registered, now - s->link_started);
         });
       }});
}

absl::Status Gateway::Impl::Readiness() const {
  if (absl::Status fatal = producer_->Fatal(); !fatal.ok()) {
    return absl::UnavailableError(absl::StrCat("not ready: ", fatal.message(),
                                               "; until it is replaced, no charger's result "
                                               "or journal is kept"));
  }
  return absl::OkStatus();
}

void Gateway::Impl::Unlink(Slot& slot) {
  absl::MutexLock lock(&slot.mu);
  if (slot.uplink != nullptr) slot.uplink->Cancel();
}

void Gateway::Impl::Tick() {
  const absl::Time now = options_.clock->Steady();
  const bool figures_changed = chargers_->Reload();
  for (auto& [charger_id, station] : stations_) {
    for (auto& [n, slot] : station->connectors) {
      if (figures_changed) slot->charger->SetInfo(chargers_->InfoOf(slot->id, charger_id));
    }
    if (station->connection == nullptr) continue;
    station->calls.Tick(now);
    for (auto& [n, slot] : station->connectors) {
      const std::string& id = slot->id;
      if (now >= slot->link_at) Link(*slot);
      // The last words of the gateway it came from may arrive after it did.
      if (journals_->LatestRevision(id) > slot->charger->revision()) {
        slot->charger->Adopt(journals_->Latest(id));
      }
      slot->charger->Tick();
    }
  }
  tick_.expires_after(std::chrono::seconds(1));
  tick_.async_wait([this](beast::error_code error) {
    if (!error) Tick();
  });
}

void Station::Send(const std::string& frame) {
  if (connection != nullptr) connection->Send(frame);
}

Slot* Station::Connector(int32_t n) {
  if (auto it = connectors.find(n); it != connectors.end()) return it->second.get();
  if (n < 1 || n > kMaxConnectors || refused.count(n) > 0) return nullptr;
  absl::StatusOr<Slot*> made = gateway.AddConnector(*this, n);
  if (!made.ok()) {
    refused.insert(n);
    LOG(WARNING) << "OCPP:" << id << " | Connector " << n << " is no CP of its own ("
                 << made.status().message() << "); its transactions are billed as " << id
                 << "'s";
    return nullptr;
  }
  return *made;
}

void Station::OnFrame(const std::string& text) {
  std::variant<Frame, BadFrame> parsed = ParseFrame(text);
  Frame* frame = std::get_if<Frame>(&parsed);
  if (frame == nullptr) return First().charger->OnFrame(text);  // answers why
  if (frame->type != MessageType::kCall) return calls.OnResult(*frame);
  const std::string& action = frame->action;
  std::unique_ptr<google::protobuf::Message> request = NewRequest(action);
  if (request == nullptr || DecodePayload(frame->payload_json, request.get()).has_value()) {
    return First().charger->OnFrame(text);  // answers why
  }
  namespace o = ::ocpp::v16;
  // The CP running transaction `id`, if any; else the one that ran it.
  auto holding = [this](int32_t id) -> Slot* {
    if (id >= 2 * kTransactionIdsPerConnector) {
      Connector(id / kTransactionIdsPerConnector);  // its CP, if not made yet
    }
    Slot* ended = nullptr;
    for (auto& [n, slot] : connectors) {
      switch (slot->charger->Holds(id)) {
        case Charger::Holding::kRunning:
          return slot.get();
        case Charger::Holding::kEnded:
          if (ended == nullptr) ended = slot.get();
          break;
        case Charger::Holding::kNone:
          break;
      }
    }
    return ended;
  };
  Slot* to = nullptr;
  if (action == "StatusNotification") {
    const auto& status = static_cast<const o::StatusNotificationRequest&>(*request);
    if (status.connector_id() == 0) {
      // The whole charger's: answered by its own CP, and every connector's.
      for (auto& [n, slot] : connectors) {
        if (n != 1) slot->charger->OnChargerStatus(*request);
      }
    } else {
      // A connector that is no CP counts for the transactions the first
      // connector's CP bills for it.
      to = Connector(status.connector_id());
    }
  } else if (action == "StartTransaction") {
    // A connector that is no CP of its own (no certificate for it, or past
    // kMaxConnectors) is billed by the charger's own CP, as a charger's
    // every connector was before connectors were CPs.
    to = Connector(static_cast<const o::StartTransactionRequest&>(*request).connector_id());
  } else if (action == "MeterValues") {
    const auto& values = static_cast<const o::MeterValuesRequest&>(*request);
    if (values.has_transaction_id()) to = holding(values.transaction_id());
    if (to == nullptr) to = Connector(values.connector_id());
  } else if (action == "StopTransaction") {
    const auto& stop = static_cast<const o::StopTransactionRequest&>(*request);
    to = holding(stop.transaction_id());
    for (auto it = connectors.begin(); to == nullptr && it != connectors.end(); ++it) {
      if (stop.has_id_tag() && it->second->charger->RunsFor(stop.id_tag())) {
        to = it->second.get();
      }
    }
  } else if (action == "Authorize") {
    // A remote start's driver is answered by the CP the start waits at.
    const auto& authorize = static_cast<const o::AuthorizeRequest&>(*request);
    for (auto it = connectors.begin(); to == nullptr && it != connectors.end(); ++it) {
      if (it->second->charger->AwaitsStartFor(authorize.id_tag())) to = it->second.get();
    }
  }
  (to != nullptr ? to : &First())->charger->OnFrame(text);
  if (action == "BootNotification") {
    for (auto& [n, slot] : connectors) {
      if (n != 1) slot->charger->Booted();
    }
  }
}

absl::StatusOr<std::unique_ptr<Gateway>> Gateway::Start(GatewayOptions options) {
  PollReconnectsOften();
  auto impl = std::make_unique<Impl>(std::move(options));
  if (absl::Status started = impl->Start(); !started.ok()) return started;
  return std::unique_ptr<Gateway>(new Gateway(std::move(impl)));
}

Gateway::Gateway(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Gateway::~Gateway() { impl_->Stop(); }

int Gateway::port() const { return impl_->port(); }

void Gateway::InjectKafkaFatalErrorForTesting(const std::string& reason) {
  impl_->producer().InjectFatalErrorForTesting(reason);
}

}  // namespace evnet::ocpp
