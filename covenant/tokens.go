package covenant

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/git-covenant/git-covenant/index"
	"github.com/git-covenant/git-covenant/oplog"
	"github.com/git-covenant/git-covenant/tokens"
	"github.com/git-covenant/git-covenant/trust"
)

// Operator tokens (ADR 0015): bearer secrets for the HTTP gateway, kept
// hashed in .git/covenant/tokens.json, audited as token.* ops signed by the
// acting identity, which is the identity the token then acts for.

// TokenRequest is what `token create` asks for.
type TokenRequest struct {
	Name      string
	Scopes    []string
	ExpiresAt *time.Time
}

// TokenFile is this clone's token file, shared by every Service of one Open
// (it caches the parsed file between changes).
func (s *Service) TokenFile() (*tokens.File, error) {
	c := s.c
	c.tokOnce.Do(func() {
		dir, err := s.CovenantDir()
		if err != nil {
			c.tokErr = err
			return
		}
		c.tokFile = tokens.NewFile(dir)
	})
	return c.tokFile, c.tokErr
}

// CreateToken makes a token acting for the acting identity, with scopes it
// holds now (checked here and again by the fold), records a token.create
// op and stores the secret's hash. The secret is in the result only.
func (s *Service) CreateToken(ctx context.Context, req TokenRequest) (*tokens.Issued, error) {
	if err := tokens.CheckName(req.Name); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadInput, err)
	}
	scopes, err := tokens.NormalizeScopes(req.Scopes)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadInput, err)
	}
	now := s.now().UTC().Truncate(time.Second)
	body := tokens.CreateBody{Name: req.Name, Scopes: scopes}
	if req.ExpiresAt != nil {
		if !req.ExpiresAt.After(now) {
			return nil, fmt.Errorf("%w: token expiry %s is not in the future", ErrBadInput, req.ExpiresAt.Format(time.RFC3339))
		}
		body.ExpiresAt = req.ExpiresAt.UTC().Format(time.RFC3339)
	}
	f, err := s.TokenFile()
	if err != nil {
		return nil, err
	}
	var out *tokens.Issued
	err = f.Update(func(ts []tokens.Token) ([]tokens.Token, error) {
		for i := range ts {
			if ts[i].Name == req.Name && ts[i].RevokedAt == nil {
				return nil, fmt.Errorf("%w: %s (%s); revoke or rotate it", tokens.ErrNameTaken, req.Name, ts[i].ID)
			}
		}
		id, err := tokens.NewID()
		if err != nil {
			return nil, err
		}
		secret, hash, err := tokens.NewSecret()
		if err != nil {
			return nil, err
		}
		body.ID, body.HashPrefix = id, hash[:tokens.HashPrefixLen]
		w, err := s.write(ctx, func(tx *index.Tx, me *trust.Actor) ([]Draft, error) {
			for _, sc := range scopes {
				why, err := tokens.Lacks(tx, me, sc, now)
				if err != nil {
					return nil, err
				}
				if why != "" {
					return nil, oplog.Reject(oplog.KindUnauthorized, "%s lacks %s: a token carries only scopes its operator holds (%s)", me.Name, sc, why)
				}
			}
			return []Draft{{Type: tokens.OpCreate, Body: body, Summary: req.Name + ": " + joinScopes(scopes)}}, nil
		}, nil)
		if err != nil {
			return nil, err
		}
		t := tokens.Token{ID: id, Name: req.Name, Operator: w.Actor.Name, Scopes: scopes, SHA256: hash, CreatedAt: now}
		if req.ExpiresAt != nil {
			e := req.ExpiresAt.UTC().Truncate(time.Second)
			t.ExpiresAt = &e
		}
		out = &tokens.Issued{Listed: t.List(now), Secret: secret}
		return append(ts, t), nil
	})
	return out, err
}

// RotateToken gives a live token a new secret (the old one is refused from
// then on) and records a token.rotate op with the new hash prefix.
func (s *Service) RotateToken(ctx context.Context, nameOrID string) (*tokens.Issued, error) {
	f, err := s.TokenFile()
	if err != nil {
		return nil, err
	}
	now := s.now().UTC().Truncate(time.Second)
	var out *tokens.Issued
	err = f.Update(func(ts []tokens.Token) ([]tokens.Token, error) {
		i, err := tokens.Find(ts, nameOrID)
		if err != nil {
			return nil, err
		}
		t := &ts[i]
		if t.RevokedAt != nil {
			return nil, fmt.Errorf("%w: token %s was revoked; create a new one", tokens.ErrNoSuchToken, t.ID)
		}
		secret, hash, err := tokens.NewSecret()
		if err != nil {
			return nil, err
		}
		body := tokens.RotateBody{ID: t.ID, HashPrefix: hash[:tokens.HashPrefixLen]}
		if _, err := s.write(ctx, func(*index.Tx, *trust.Actor) ([]Draft, error) {
			return []Draft{{Type: tokens.OpRotate, Body: body, Summary: t.Name}}, nil
		}, nil); err != nil {
			return nil, err
		}
		t.SHA256, t.RotatedAt = hash, &now
		out = &tokens.Issued{Listed: t.List(now), Secret: secret}
		return ts, nil
	})
	return out, err
}

// RevokeToken revokes a token: first in the token file, so it is refused at
// once, then with a token.revoke op. If the op cannot be written the token
// stays revoked and the error says so.
func (s *Service) RevokeToken(ctx context.Context, nameOrID, reason string) (*tokens.Listed, error) {
	body := tokens.RevokeBody{Reason: reason}
	f, err := s.TokenFile()
	if err != nil {
		return nil, err
	}
	now := s.now().UTC().Truncate(time.Second)
	var t tokens.Token
	err = f.Update(func(ts []tokens.Token) ([]tokens.Token, error) {
		i, err := tokens.Find(ts, nameOrID)
		if err != nil {
			return nil, err
		}
		if ts[i].RevokedAt != nil {
			return nil, fmt.Errorf("%w: token %s is already revoked", tokens.ErrNoSuchToken, ts[i].ID)
		}
		body.ID = ts[i].ID
		if err := body.Check(); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadInput, err)
		}
		ts[i].RevokedAt, ts[i].Reason = &now, body.Reason
		t = ts[i]
		return ts, nil
	})
	if err != nil {
		return nil, err
	}
	l := t.List(now)
	if _, err := s.write(ctx, func(*index.Tx, *trust.Actor) ([]Draft, error) {
		return []Draft{{Type: tokens.OpRevoke, Body: body, Summary: t.Name}}, nil
	}, nil); err != nil {
		return &l, fmt.Errorf("token %s is revoked in this clone, but recording its revocation failed: %w", t.ID, err)
	}
	return &l, nil
}

// Tokens lists the token file's tokens (never a hash in full), by name.
func (s *Service) Tokens(ctx context.Context) ([]tokens.Listed, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := s.TokenFile()
	if err != nil {
		return nil, err
	}
	ts, err := f.Load()
	if err != nil {
		return nil, err
	}
	now := s.now()
	out := make([]tokens.Listed, 0, len(ts))
	for i := range ts {
		out = append(out, ts[i].List(now))
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// TokenRecords returns the token audit records the feeds hold (every
// clone's), by id.
func (s *Service) TokenRecords(ctx context.Context) ([]*tokens.Record, error) {
	out := []*tokens.Record{}
	err := s.read(ctx, func(ix *index.Index) error {
		return ix.EachRecord(tokens.Kind, func(_ string, raw []byte) error {
			var r tokens.Record
			if err := json.Unmarshal(raw, &r); err != nil {
				return err
			}
			out = append(out, &r)
			return nil
		})
	})
	return out, err
}

// Authenticate returns the live token a secret belongs to (tokens.ErrRefused
// if none).
func (s *Service) Authenticate(secret string) (*tokens.Token, error) {
	f, err := s.TokenFile()
	if err != nil {
		return nil, err
	}
	return f.Authenticate(secret, s.now())
}

func joinScopes(sc []string) string {
	b, _ := json.Marshal(sc)
	return string(b)
}
