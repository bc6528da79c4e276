package bigtableserver

import (
	"net"
	"sync"
	"time"
)

// multiListener accepts connections from several listeners: bttest serves
// one listener, and we need it on the public one and an in-process one.
type multiListener struct {
	listeners []net.Listener // the first names the address
	conns     chan net.Conn
	done      chan struct{}
	once      sync.Once
}

func listenBoth(listeners ...net.Listener) *multiListener {
	m := &multiListener{listeners: listeners, conns: make(chan net.Conn), done: make(chan struct{})}
	for _, l := range listeners {
		go m.accept(l)
	}
	return m
}

// accept hands l's connections to Accept until l or m is closed.
func (m *multiListener) accept(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			// Closed (bufconn's error is not net.ErrClosed), or e.g. out
			// of file descriptors: then try again shortly.
			select {
			case <-m.done:
				return
			case <-time.After(10 * time.Millisecond):
				continue
			}
		}
		select {
		case m.conns <- c:
		case <-m.done:
			c.Close()
			return
		}
	}
}

func (m *multiListener) Accept() (net.Conn, error) {
	select {
	case c := <-m.conns:
		return c, nil
	case <-m.done:
		return nil, net.ErrClosed
	}
}

// Close closes every listener.
func (m *multiListener) Close() error {
	m.once.Do(func() {
		close(m.done)
		for _, l := range m.listeners {
			l.Close()
		}
	})
	return nil
}

func (m *multiListener) Addr() net.Addr { return m.listeners[0].Addr() }
