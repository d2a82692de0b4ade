#include "jaxaccomp/udp.h"

#include <cstring>
#include <stdexcept>

#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#pragma comment(lib, "Ws2_32.lib")
namespace {
using socklen_t = int;
struct WinsockInit {
  WinsockInit() { WSADATA data; WSAStartup(MAKEWORD(2, 2), &data); }
};
const WinsockInit winsock_init;
int last_error() { return WSAGetLastError(); }
void close_socket(std::intptr_t fd) { closesocket(static_cast<SOCKET>(fd)); }
}  // namespace
#else
#include <arpa/inet.h>
#include <cerrno>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
namespace {
int last_error() { return errno; }
void close_socket(std::intptr_t fd) { ::close(static_cast<int>(fd)); }
}  // namespace
#endif

namespace jaxaccomp {
namespace {

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(last_error()));
}

sockaddr_in to_sockaddr(const Endpoint& e) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = e.address;
  a.sin_port = htons(e.port);
  return a;
}

}  // namespace

Endpoint resolve(const std::string& host, int port) {
  if (port < 1 || port > 65535) throw std::runtime_error("port must be 1 to 65535, got " + std::to_string(port));
  addrinfo hints{}, *found = nullptr;
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_DGRAM;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &found) != 0 || found == nullptr)
    throw std::runtime_error("cannot resolve host '" + host + "'");
  Endpoint e{reinterpret_cast<sockaddr_in*>(found->ai_addr)->sin_addr.s_addr, static_cast<std::uint16_t>(port)};
  freeaddrinfo(found);
  return e;
}

UdpSocket::UdpSocket() {
  fd_ = static_cast<std::intptr_t>(::socket(AF_INET, SOCK_DGRAM, 0));
  if (fd_ < 0) fail("cannot open a UDP socket");
}

UdpSocket::~UdpSocket() { close_socket(fd_); }

void UdpSocket::bind(int port) {
  if (port < 0 || port > 65535) throw std::runtime_error("port must be 0 to 65535, got " + std::to_string(port));
  sockaddr_in a = to_sockaddr(Endpoint{htonl(INADDR_ANY), static_cast<std::uint16_t>(port)});
  if (::bind(static_cast<int>(fd_), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
    fail("cannot listen on UDP port " + std::to_string(port));
}

int UdpSocket::local_port() const {
  sockaddr_in a{};
  socklen_t size = sizeof a;
  getsockname(static_cast<int>(fd_), reinterpret_cast<sockaddr*>(&a), &size);
  return ntohs(a.sin_port);
}

void UdpSocket::set_buffers(int bytes) {
  for (int option : {SO_RCVBUF, SO_SNDBUF})
    setsockopt(static_cast<int>(fd_), SOL_SOCKET, option, reinterpret_cast<const char*>(&bytes), sizeof bytes);
}

void UdpSocket::send_to(const Endpoint& to, const std::uint8_t* data, std::size_t size) {
  sockaddr_in a = to_sockaddr(to);
  if (::sendto(static_cast<int>(fd_), reinterpret_cast<const char*>(data), static_cast<int>(size), 0,
               reinterpret_cast<sockaddr*>(&a), sizeof a) < 0)
    fail("cannot send a " + std::to_string(size) + "-byte datagram");
}

std::optional<std::size_t> UdpSocket::receive(std::uint8_t* buffer, std::size_t capacity, int timeout_ms) {
#ifdef _WIN32
  WSAPOLLFD p{static_cast<SOCKET>(fd_), POLLIN, 0};
  const int ready = WSAPoll(&p, 1, timeout_ms);
#else
  pollfd p{static_cast<int>(fd_), POLLIN, 0};
  const int ready = ::poll(&p, 1, timeout_ms);
#endif
  if (ready <= 0) return std::nullopt;
  const auto got = ::recv(static_cast<int>(fd_), reinterpret_cast<char*>(buffer), static_cast<int>(capacity), 0);
  if (got < 0) return std::nullopt;  // e.g. ICMP port unreachable after a send: nothing to read
  return static_cast<std::size_t>(got);
}

}  // namespace jaxaccomp
