package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/hitl-dev/hitl/internal/embedded"
)

// natsChildCommand is the hidden subcommand that runs the NATS server of `bench scale` in a
// process of its own: `bench scale-nats -store DIR -token T` prints its client URL as the
// first line of stdout and serves until SIGTERM or SIGINT.
const natsChildCommand = "scale-nats"

func serveNATS(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet(natsChildCommand, flag.ContinueOnError)
	storeDir := fs.String("store", "", "JetStream store directory (required)")
	token := fs.String("token", "", "the token clients must present (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *storeDir == "" || *token == "" {
		return errors.New("-store and -token are required")
	}
	s, err := embedded.Start(embedded.Options{StoreDir: *storeDir, ServerName: "hitl-scale", Token: *token})
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, s.ClientURL())
	<-ctx.Done()
	s.Shutdown()
	s.WaitForShutdown()
	return nil
}

// proc is a child process: the NATS server or one of the services.
type proc struct {
	name    string
	cmd     *exec.Cmd
	started time.Time
	done    chan struct{} // closed when the process has exited
	err     error         // what Wait returned
	logPath string
}

// startProc starts bin with args and env (added to this process's environment without its
// HITL_* and NATS_URL variables, which would otherwise leak into the services); stderr goes
// to logPath. When stdout is set it receives the child's stdout.
func startProc(name, bin string, args, env []string, logPath string, stdout io.Writer) (*proc, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HITL_") && !strings.HasPrefix(kv, "NATS_URL=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	cmd.Stderr = logFile
	cmd.Stdout = stdout
	cmd.SysProcAttr = childAttr()
	p := &proc{name: name, cmd: cmd, done: make(chan struct{}), logPath: logPath}
	p.started = time.Now()
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// exited reports whether the process has ended, and how.
func (p *proc) exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// stop sends SIGTERM and waits for the exit; after grace it kills the process.
func (p *proc) stop(grace time.Duration) error {
	if done, _ := p.exited(); done {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not stop within %s after SIGTERM; killed", p.name, grace)
	}
}

// logTail is the end of the process's log, for an error message.
func (p *proc) logTail() string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return ""
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}

// startNATSChild runs this binary as `bench scale-nats` and reads the URL it listens on.
func startNATSChild(ctx context.Context, dir, token string) (*proc, string, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, "", err
	}
	pr, pw := io.Pipe()
	p, err := startProc("nats-server", self, []string{natsChildCommand, "-store", filepath.Join(dir, "jetstream"), "-token", token},
		nil, filepath.Join(dir, "nats-server.log"), pw)
	if err != nil {
		return nil, "", err
	}
	go func() { <-p.done; pw.Close() }()
	lines := make(chan string, 1)
	go func() {
		r := bufio.NewReader(pr)
		line, _ := r.ReadString('\n')
		lines <- strings.TrimSpace(line)
		_, _ = io.Copy(io.Discard, r)
	}()
	select {
	case url := <-lines:
		if url == "" {
			return nil, "", fmt.Errorf("the NATS server exited: %v: %s", p.err, p.logTail())
		}
		return p, url, nil
	case <-time.After(time.Minute):
		_ = p.stop(5 * time.Second)
		return nil, "", errors.New("the NATS server did not start within a minute")
	case <-ctx.Done():
		_ = p.stop(5 * time.Second)
		return nil, "", ctx.Err()
	}
}

// serviceNames are the services `bench scale` runs, each from its cmd/ main.
var serviceNames = []string{"orchestrator", "notifier", "responder"}

// buildServices builds cmd/orchestrator, cmd/notifier and cmd/responder into dir, from the
// module in the working directory (make runs from the repository's root).
func buildServices(ctx context.Context, dir string) error {
	if _, err := os.Stat("go.mod"); err != nil {
		return errors.New("run from the repository's root (make scale does), or give -bin with prebuilt services")
	}
	goCmd := os.Getenv("GO")
	if goCmd == "" {
		goCmd = "go"
	}
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	for _, n := range serviceNames {
		args = append(args, "./cmd/"+n)
	}
	cmd := exec.CommandContext(ctx, goCmd, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go build the services: %w\n%s", err, out)
	}
	return nil
}

// freeAddr is a loopback address with a port free right now: each service keeps its port
// across restarts, so that the links and the inbox session stay valid.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// service is one running hitl service and how to start it again.
type service struct {
	name, bin, addr string
	env             []string
	logPath         string
	p               *proc
}

func (s *service) start() error {
	p, err := startProc(s.name, s.bin, nil, s.env, s.logPath, nil)
	if err != nil {
		return err
	}
	s.p = p
	return nil
}

// startTimes waits until /healthz and /readyz of s answer 200 and returns how long after
// the exec each did.
func (s *service) startTimes(ctx context.Context, deadline time.Duration) (healthz, readyz time.Duration, err error) {
	c := &http.Client{Timeout: 2 * time.Second}
	get := func(path string) bool {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.addr+path, nil)
		if err != nil {
			return false
		}
		resp, err := c.Do(req)
		if err != nil {
			return false
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	end := s.p.started.Add(deadline)
	for healthz == 0 || readyz == 0 {
		if done, werr := s.p.exited(); done {
			return 0, 0, fmt.Errorf("%s exited (%v): %s", s.name, werr, s.p.logTail())
		}
		if time.Now().After(end) {
			return 0, 0, fmt.Errorf("%s: /healthz or /readyz not 200 within %s of its start", s.name, deadline)
		}
		if ctx.Err() != nil {
			return 0, 0, ctx.Err()
		}
		if healthz == 0 && get("/healthz") {
			healthz = time.Since(s.p.started)
		}
		if readyz == 0 && get("/readyz") {
			readyz = time.Since(s.p.started)
		}
		if healthz == 0 || readyz == 0 {
			time.Sleep(5 * time.Millisecond) // the polling period: the figure's resolution
		}
	}
	return healthz, readyz, nil
}
