// cxx_throw: C++ exceptions under the shim. One is thrown straight out of a
// function whose bind() has just failed with EADDRINUSE (so the shim's
// failure path, libunwind and all, ran first), wrapped and rethrown through
// several frames; others cross frames with destructors to run, catch(...)
// and std::rethrow_exception. Every step prints one line; stdout and the
// exit status must be the same with and without the shim. Usage:
//   cxx_throw ADDR PORT   (ADDR:PORT held by someone else)
// Exits 3 when every exception took the path it should, 1 otherwise.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <string>
#include <system_error>

namespace {

int steps;

struct frame_guard {
	const char *name;
	explicit frame_guard(const char *n) : name(n) {}
	~frame_guard() { std::printf("unwound %s\n", name); }
	frame_guard(const frame_guard &) = delete;
	frame_guard &operator=(const frame_guard &) = delete;
};

struct fd_guard {
	int fd;
	explicit fd_guard(int f) : fd(f) {}
	~fd_guard()
	{
		if (fd >= 0)
			close(fd);
	}
	fd_guard(const fd_guard &) = delete;
	fd_guard &operator=(const fd_guard &) = delete;
};

[[gnu::noinline]] void bind_or_throw(const char *addr, int port)
{
	frame_guard g("bind_or_throw");
	sockaddr_in sa{};
	sa.sin_family = AF_INET;
	sa.sin_port = htons(static_cast<unsigned short>(port));
	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
		throw std::invalid_argument("bad address");
	fd_guard s(socket(AF_INET, SOCK_STREAM, 0));
	if (s.fd < 0)
		throw std::system_error(errno, std::generic_category(), "socket");
	if (bind(s.fd, reinterpret_cast<sockaddr *>(&sa), sizeof(sa)) != 0) {
		int e = errno;
		std::printf("bind failed: errno=%d\n", e);
		throw std::system_error(e, std::generic_category(), "bind");
	}
	std::printf("bind succeeded\n");
}

[[gnu::noinline]] void level3(const char *addr, int port)
{
	frame_guard g("level3");
	bind_or_throw(addr, port);
}

[[gnu::noinline]] void level2(const char *addr, int port)
{
	frame_guard g("level2");
	try {
		level3(addr, port);
	} catch (const std::system_error &e) {
		steps++;
		std::printf("level2 caught system_error code=%d what=%s\n", e.code().value(), e.what());
		throw std::runtime_error(std::string("wrapped: ") + e.what());
	}
}

[[gnu::noinline]] void level1(const char *addr, int port)
{
	frame_guard g("level1");
	level2(addr, port);
}

[[gnu::noinline]] void deep(int n)
{
	frame_guard g(n % 2 ? "deep odd" : "deep even");
	if (n == 0)
		throw 42;
	deep(n - 1);
}

} // namespace

int main(int argc, char **argv)
{
	if (argc != 3)
		return 64;
	const char *addr = argv[1];
	int port = std::atoi(argv[2]);

	try {
		level1(addr, port);
	} catch (const std::runtime_error &e) {
		steps++;
		std::printf("main caught runtime_error what=%s\n", e.what());
	}

	std::exception_ptr saved;
	try {
		deep(5);
	} catch (...) {
		saved = std::current_exception();
		std::printf("main caught (...)\n");
	}
	try {
		std::rethrow_exception(saved);
	} catch (int v) {
		steps++;
		std::printf("main rethrown int=%d\n", v);
	}

	// A second failing bind after the first exception: the shim's failure
	// path runs again and unwinding still works.
	try {
		bind_or_throw(addr, port);
	} catch (const std::system_error &e) {
		std::printf("main caught again code=%d\n", e.code().value());
	}
	std::fflush(stdout);
	return steps == 3 ? 3 : 1;
}
