package daemon

import (
	"os"

	"github.com/git-covenant/git-covenant/sandbox"
	"sort"
	"time"
)

// Status is what `daemon status` shows.
type Status struct {
	Running  bool      `json:"running"`
	Pid      int       `json:"pid"`
	Started  time.Time `json:"started"`
	Uptime   string    `json:"uptime"`
	Identity string    `json:"identity"`
	Socket   string    `json:"socket"`
	// HTTP is the HTTP gateway's URL ("" when it is off).
	HTTP   string        `json:"http,omitempty"`
	Agents []AgentStatus `json:"agents"`
	Runs   []RunStatus   `json:"runs"`
	// Queue is the number of ready tasks at the last scan.
	Queue   int      `json:"queue"`
	Scans   int      `json:"scans"`
	Sandbox []string `json:"sandbox"` // backends this host has
}

// AgentStatus is one manifest as the daemon runs it.
type AgentStatus struct {
	Name     string   `json:"name"`
	Identity string   `json:"identity"`
	Labels   []string `json:"labels"`
	Running  int      `json:"running"`
	Max      int      `json:"max"`
	// Problem says why the agent is not dispatched to (its identity cannot
	// act), "" when it is.
	Problem string `json:"problem,omitempty"`
}

// RunStatus is one run in flight.
type RunStatus struct {
	Run      string    `json:"run"`
	Agent    string    `json:"agent"`
	Identity string    `json:"identity"`
	Task     string    `json:"task"`
	Epoch    uint64    `json:"epoch"`
	Phase    string    `json:"phase"`
	Pid      int       `json:"pid,omitempty"`
	Began    time.Time `json:"began"`
}

// Status reports the daemon's state.
func (d *Daemon) Status() *Status {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := &Status{Running: true, Pid: os.Getpid(), Started: d.started, Uptime: d.o.Now().Sub(d.started).Round(time.Second).String(),
		Identity: d.name, Agents: []AgentStatus{}, Runs: []RunStatus{}, Queue: d.queue, Scans: d.scans, Sandbox: d.sandboxes()}
	if d.gw != nil {
		s.Socket = d.gw.path
	}
	if d.http != nil {
		s.HTTP = d.http.URL()
	}
	count := map[string]int{}
	for _, r := range d.runs {
		count[r.agent.Name]++
		st := r.st
		s.Runs = append(s.Runs, RunStatus{Run: st.Run, Agent: st.Agent, Identity: st.Identity, Task: st.Task, Epoch: st.Epoch, Phase: st.Phase, Pid: st.Pid, Began: st.Began})
	}
	sort.Slice(s.Runs, func(i, j int) bool { return s.Runs[i].Began.Before(s.Runs[j].Began) })
	for _, a := range d.agents {
		labels := a.Labels
		if labels == nil {
			labels = []string{}
		}
		s.Agents = append(s.Agents, AgentStatus{Name: a.Name, Identity: a.Identity, Labels: labels, Running: count[a.Name], Max: a.max(), Problem: a.problem})
	}
	return s
}

func (d *Daemon) sandboxes() []string {
	out := []string{}
	for _, s := range sandbox.Available() {
		if s.Available {
			out = append(out, string(s.Backend))
		}
	}
	return out
}
