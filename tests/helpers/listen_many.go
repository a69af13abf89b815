// listen_many BASE N: binds 127.0.0.1:BASE..BASE+N-1 in descending order as
// net.Listen does (socket, SO_REUSEADDR, bind), then listens on all of them
// at once from N goroutines; prints "ASKED GOT" per listener, sorted.
// Built by tests/integration/remap.bats (CGO_ENABLED=0: static, so the
// bindwatch CLI runs it under the seccomp supervisor).
package main

import (
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"sync"
	"syscall"
)

func main() {
	base, _ := strconv.Atoi(os.Args[1])
	n, _ := strconv.Atoi(os.Args[2])
	fds := make([]int, n)
	for i := n - 1; i >= 0; i-- {
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
		if err == nil {
			err = syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
		}
		if err == nil {
			err = syscall.Bind(fd, &syscall.SockaddrInet4{Port: base + i, Addr: [4]byte{127, 0, 0, 1}})
		}
		if err != nil {
			fmt.Println(base+i, "bind error:", err)
			os.Exit(1)
		}
		fds[i] = fd
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	lines := []string{}
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			line := ""
			if err := syscall.Listen(fds[i], 128); err != nil {
				line = fmt.Sprint(base+i, " listen error: ", err)
			} else if l, err := net.FileListener(os.NewFile(uintptr(fds[i]), "l")); err != nil {
				line = fmt.Sprint(base+i, " FileListener error: ", err)
			} else {
				line = fmt.Sprint(base+i, " ", l.Addr().(*net.TCPAddr).Port)
			}
			mu.Lock()
			lines = append(lines, line)
			mu.Unlock()
		}(i)
	}
	close(start)
	wg.Wait()
	sort.Strings(lines)
	for _, l := range lines {
		fmt.Println(l)
	}
}
