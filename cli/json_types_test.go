package cli

import (
	"github.com/git-covenant/git-covenant/covenant"
	"github.com/git-covenant/git-covenant/tasks"
)

type (
	covenantTaskDetail = covenant.TaskDetail
	covenantLogEntry   = covenant.LogEntry
	covenantLostLease  = covenant.LostLease
	tasksTask          = tasks.Task
)
