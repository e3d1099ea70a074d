#!/bin/sh
# make demo: builds git-covenant, makes a throwaway repository under .demo/
# and runs the main flow end to end, printing each command and its output.
# Nothing outside .demo/ is touched: it uses its own keystore and git config.
set -eu
top=$(pwd)
demo="$top/.demo"
rm -rf "$demo"
mkdir -p "$demo/home"
export PATH="$top/bin:$PATH"
export HOME="$demo/home" GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL="$demo/home/.gitconfig"
export GIT_COVENANT_HOME="$demo/home/covenant"
git config --global user.name "Demo User"
git config --global user.email demo@example.com
git config --global init.defaultBranch main

step() { printf '\n\033[1m## %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

step "A shared remote and a working clone (machine A)"
run git init -q --bare "$demo/remote.git"
run git clone -q "$demo/remote.git" "$demo/a"
cd "$demo/a"
echo 'package calc' > calc.go
git add calc.go && git commit -q -m "initial"

step "Initialize: an identity, a trust root in .covenant/config.toml, a signed feed"
run git covenant init --name alice

step "Create tasks"
id=$(git covenant task create "Add division to calc" --label calc --priority high --body "Divide two ints; return an error on zero.")
echo "$id"
run git covenant task create "Document calc" --label docs
run git covenant task list

step "Start the task: claim it under a lease and get the context"
run git covenant task start "$id" --ttl 1h

step "Do the work, naming the task in the commit trailer"
printf 'package calc\n\nfunc Div(a, b int) int { return a / b }\n' > calc.go
git commit -q -am "calc: add Div" -m "Covenant-Task: $id"
git log --oneline -1

step "Hand off: a structured artifact for whoever comes next"
run git covenant task handoff "$id" --summary "Div added; zero check still missing" \
	--next "return an error when b == 0" --next "add table tests" \
	--question "panic or error on zero?" --file calc.go --validation not-run

step "Share code and covenant state through the ordinary remote"
run git covenant remote setup
run git push -q origin main
run git covenant sync

step "A fresh session on another machine: new clone, new keystore, no chat history"
export GIT_COVENANT_HOME="$demo/home/covenant-b"
run git clone -q "$demo/remote.git" "$demo/b"
cd "$demo/b"
run git covenant remote setup
run git covenant sync
run git covenant task resume "$id"

step "Both clones compute the same state"
run git covenant state digest
(cd "$demo/a" && GIT_COVENANT_HOME="$demo/home/covenant" git covenant state digest)

step "Audit: every op in order, verification, and stock git checking a signature"
cd "$demo/a"
export GIT_COVENANT_HOME="$demo/home/covenant"
run git covenant log
run git covenant verify
git covenant allowed-signers -o "$demo/allowed-signers"
feed=$(git for-each-ref --format='%(refname)' refs/covenant/feeds/ | head -1)
run git -c gpg.ssh.allowedSignersFile="$demo/allowed-signers" verify-commit "$feed"

step "Tamper: plant an unsigned commit on the feed with git plumbing"
tree=$(git rev-parse "$feed^{tree}")
forged=$(git commit-tree "$tree" -p "$feed" -m "forged")
git update-ref "$feed" "$forged"
printf '$ git covenant verify\n'
if git covenant verify; then echo "UNEXPECTED: tamper not detected"; exit 1; else echo "(exit status $? — tamper detected)"; fi

step "Done. The demo repository is in .demo/ (remove it with: make clean)"
