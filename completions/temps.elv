
use builtin;
use str;

set edit:completion:arg-completer[temps] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'temps'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'temps'= {
            cand --db 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]'
            cand -o 'How to print results: a table for people, one JSON document for scripts'
            cand --output 'How to print results: a table for people, one JSON document for scripts'
            cand -y 'Answer yes to confirmations (needed when there is no terminal)'
            cand --yes 'Answer yes to confirmations (needed when there is no terminal)'
            cand -q 'Print nothing but results and errors'
            cand --quiet 'Print nothing but results and errors'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand project 'Register and configure projects'
            cand deploy 'Deploy an image (docker preset) or a directory (static preset)'
            cand list 'Show a project''s deployment history, newest first'
            cand ls 'Show a project''s deployment history, newest first'
            cand show 'Show one deployment in full'
            cand status 'Show what each environment serves, and any drift between the history and Docker'
            cand rollback 'Run an earlier deployment''s image again, without rebuilding'
            cand promote 'Make a deployment serve and leave the rolled-back state'
            cand env 'Manage an environment''s variables'
            cand prune 'Remove old deployments'' containers, pinned tags and releases'
            cand completions 'Print a shell completion script'
            cand proxy 'Run the zero-downtime proxy for every environment in proxy mode (foreground)'
            cand serve 'Run the HTTP API and the dashboard (foreground)'
            cand token 'Create, list and revoke the API''s tokens'
            cand notify 'Tell webhooks what happened to environments'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'temps;project'= {
            cand --db 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]'
            cand -o 'How to print results: a table for people, one JSON document for scripts'
            cand --output 'How to print results: a table for people, one JSON document for scripts'
            cand -y 'Answer yes to confirmations (needed when there is no terminal)'
            cand --yes 'Answer yes to confirmations (needed when there is no terminal)'
            cand -q 'Print nothing but results and errors'
            cand --quiet 'Print nothing but results and errors'
            cand -h 'Print help'
            cand --help 'Print help'
            cand create 'Register a project'
            cand update 'Change a project''s settings'
            cand list 'List projects'
            cand ls 'List projects'
            cand show 'Show a project''s settings and environments'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'temps;project;create'= {
            cand --preset 'What a deployment is'
            cand --container-port 'The port the app listens on inside its container [default: the image''s first EXPOSE]'
            cand --health-path 'Health check: HTTP GET this path and expect 2xx or 3xx (`""` to unset)'
            cand --health-timeout 'How long a new version may take to become healthy [default: 30s]'
            cand --health-interval 'Time between health probes [default: 50ms]'
            cand --stop-timeout 'How long a stopping container gets before it is killed [default: 10s]; temps says when a container had to be killed (it ignored SIGTERM)'
            cand --hooks 'A folder of hooks: executables named pre-deploy, post-deploy, pre-rollback, post-rollback, pre-promote, post-promote (`""` to unset)'
            cand --hook-timeout 'How long a hook may run before it is killed and counts as failed [default: 30s]'
            cand --watch 'The watch window deploy, rollback and promote use when not given --watch [default: 0s, no watch]'
            cand --db 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]'
            cand -o 'How to print results: a table for people, one JSON document for scripts'
            cand --output 'How to print results: a table for people, one JSON document for scripts'
            cand -y 'Answer yes to confirmations (needed when there is no terminal)'
            cand --yes 'Answer yes to confirmations (needed when there is no terminal)'
            cand -q 'Print nothing but results and errors'
            cand --quiet 'Print nothing but results and errors'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'temps;project;update'= {
            cand --container-port 'The port the app listens on inside its container [default: the image''s first EXPOSE]'
            cand --health-path 'Health check: HTTP GET this path and expect 2xx or 3xx (`""` to unset)'
            cand --health-timeout 'How long a new version may take to become healthy [default: 30s]'
            cand --health-interval 'Time between health probes [default: 50ms]'
            cand --stop-timeout 'How long a stopping container gets before it is killed [default: 10s]; temps says when a container had to be killed (it ignored SIGTERM)'
            cand --hooks 'A folder of hooks: executables named pre-deploy, post-deploy, pre-rollback, post-rollback, pre-promote, post-promote (`""` to unset)'
            cand --hook-timeout 'How long a hook may run before it is killed and counts as failed [default: 30s]'
            cand --watch 'The watch window deploy, rollback and promote use when not given --watch [default: 0s, no watch]'
            cand --db 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]'
            cand -o 'How to print results: a table for people, one JSON document for scripts'
            cand --output 'How to print results: a table for people, one JSON document for scripts'
            cand -y 'Answer yes to confirmations (needed when there is no terminal)'
            cand --yes 'Answer yes to confirmations (needed when there is no terminal)'
            cand -q 'Print nothing but results and errors'
            cand --quiet 'Print nothing but results and errors'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'temps;project;list'= {
            cand --db 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]'
            cand -o 'How to print results: a table for people, one JSON document for scripts'
            cand --output 'How to print results: a table for people, one JSON document for scripts'
            cand -y 'Answer yes to confirmations (needed when there is no terminal)'
            cand --yes 'Answer yes to confirmations (needed when there is no terminal)'
            cand -q 'Print nothing but results and errors'
            cand --quiet 'Print nothing but results and errors'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'temps;project;ls'= {
            cand --db 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]'
            cand -o 'How to print results: a table for people, one JSON document for scripts'
            cand --output 'How to print results: a table for people, one JSON document for scripts'
            cand -y 'Answer yes to confirmations (needed when there is no terminal)'
            cand --yes 'Answer yes to confirmations (needed when there is no terminal)'
            cand -q 'Print nothing but results and errors'
            cand --quiet 'Print nothing but results and errors'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'temps;project;show'= {
            cand --db 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]'
            cand -o 'How to print results: a table for people, one JSON document for scripts'
            cand --output 'How to print results: a table for people, one JSON document for scripts'
            cand -y 'Answer yes to confirmations (needed when there is no terminal)'
            cand --yes 'Answer yes to confirmations (needed when there is no terminal)'
            cand -q 'Print nothing but results and errors'
            cand --quiet 'Print nothing but results and errors'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'temps;project;help'= {
            cand create 'Register a project'
            cand update 'Change a project''s settings'
            cand list 'List projects'
            cand show 'Show a project''s settings and environments'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'temps;project;help;create'= {
        }
        &'temps;project;help;update'= {
        }
        &'temps;project;help;list'= {
        }
        &'temps;project;help;show'= {
        }
        &'temps;project;help;help'= {
        }
        &'temps;deploy'= {
            cand --image 'Image to deploy (docker preset); pulled when not on the host'
            cand --dir 'Directory to release (static preset)'
            cand -e 'Environment name'
            cand --environment 'Environment name'
            cand --publish 'Publish the container port on this host port; remembered by the environment, even when its first deploy fails. In swarm mode: PORT only, published in host mode on every node that runs a task'
            cand --proxy 'Serve through `temps proxy` on this public address, switching with no downtime (start first, switch, drain, stop); remembered by the environment'
            cand --replicas 'Proxy mode: how many containers to run, round-robin; swarm mode: how many tasks [default: 1; remembered]'
            cand --drain 'Proxy mode: how long requests in flight may take to finish on the old version before it is stopped [default: 30s; remembered]'
            cand --response-timeout 'Proxy mode: how long the app''s answer may take to begin once the request was sent to it whole; after that the proxy answers 504 Gateway Timeout and closes the connection to the app [default: 60s; 0s for no limit; remembered]'
            cand --domain 'Proxy mode: a host this environment answers on its address (repeat for more; `*.example.com` for every name one label under it). Environments of any project may share one `--proxy` address when each names its domains; a request for no known domain gets 404, unless one environment there answers every other host (the address''s catch-all: `--domain ''*''`, or none given while alone on the address). Joining an address others share by domain without naming domains or ''*'', or claiming a domain another environment there holds, is refused (exit 4) [remembered]'
            cand --standby 'Proxy mode: after a switch, how long the replaced deployment''s containers keep running with no traffic, so that a rollback or promote to it only switches the route (the warm path); 0s stops them once drained [default: 30m; remembered]'
            cand --health-timeout 'How long the new version may take to become healthy, for this deploy only (an app that is slow to start); the project''s --health-timeout stays as it is'
            cand --tls 'Proxy mode: serve HTTPS on the `--proxy` address, with certificates the proxy gets and renews itself (`acme`, Let''s Encrypt by default; see `temps proxy`), or plain HTTP again (`off`). Needs `--domain` (exact names only with `acme`); every environment on one address is HTTPS or none is (else exit 4) [default: off; remembered]'
            cand --tls-cert 'Proxy mode: serve HTTPS with this certificate chain (PEM, leaf first), which must be valid now and name every `--domain` (wildcards allowed); needs --tls-key. Checked at deploy (exit 2 or 4, nothing changed) and kept in the history [remembered]'
            cand --tls-key 'The private key of --tls-cert (PEM); it must be the certificate''s'
            cand --hsts 'Proxy mode, with HTTPS: add `Strict-Transport-Security: max-age=SECONDS` to the app''s answers (when they have none); 0s for none [default: none; remembered]'
            cand --schema 'The database schema this release migrates to: a number (42, 20240611093000) or dotted numbers (2.10); else the image''s `dev.temps.schema` label. A rollback or promote to a deployment below the database''s floor is refused (exit 4)'
            cand --schema-compat 'The oldest schema whose code still runs against this release''s schema (an expand migration keeps old code working); else the image''s `dev.temps.schema.compat` label [default: --schema: not backward compatible]'
            cand --reason 'Why this deployment is made, for the history'
            cand --wait-lock 'When another operation holds the environment, wait up to this long instead of failing'
            cand --watch 'After a successful switch, watch the new deployment for this long and roll back by itself (exit 5) when its container exits or restarts, its health check fails 3 times in a row (probed every second), or, in proxy mode, 5xx answers make at least 10% of at least 20 requests within the last 10 s; 0s skips the watch. Ctrl-C only stops watching [default: the project''s --watch]'
            cand --db 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]'
            cand -o 'How to print results: a table for people, one JSON document for scripts'
            cand --output 'How to print results: a table for people, one JSON document for scripts'
            cand --swarm 'Run the environment as one Docker Swarm service, `temps-PROJECT-ENVIRONMENT`, on the swarm whose manager DOCKER_HOST names (else exit 4); remembered. The tag is resolved once, in its registry, to its repository digest (repo@sha256:...), which every node pulls and every later rollback or promote uses'
            cand -y 'Answer yes to confirmations (needed when there is no terminal)'
            cand --yes 'Answer yes to confirmations (needed when there is no terminal)'
            cand -q 'Print nothing but results and errors'
            cand --quiet 'Print nothing but results and errors'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'temps;list'= {
            cand -e 'Only this environment'
            cand --environment 'Only this environment'
            cand --limit 'How many deployments, newest first (0 for all)'
            cand --db 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]'
            cand -o 'How to print results: a table for people, one JSON document for scripts'
            cand --output 'How to print results: a table for people, one JSON document for scripts'
            cand -y 'Answer yes to confirmations (needed when there is no terminal)'
            cand --yes 'Answer yes to confirmations (needed when there is no terminal)'
            cand -q 'Print nothing but results and errors'
            cand --quiet 'Print nothing but results and errors'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'temps;ls'= {
            cand -e 'Only this environment'
            cand --environment 'Only this environment'
            cand --limit 'How many deployments, newest first (0 for all)'
            cand --db 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]'
            cand -o 'How to print results: a table for people, one JSON document for scripts'
            cand --output 'How to print results: a table for people, one JSON document for scripts'
            cand -y 'Answer yes to confirmations (needed when there is no terminal)'
            cand --yes 'Answer yes to confirmations (needed when there is no terminal)'
            cand -q 'Print nothing but results and errors'
            cand --quiet 'Print nothing but results and errors'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'temps;show'= {
            cand --db 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]'
            cand -o 'How to print results: a table for people, one JSON document for scripts'
            cand --output 'How to print results: a table for people, one JSON document for scripts'
            cand -y 'Answer yes to confirmations (needed when there is no terminal)'
            cand --yes 'Answer yes to confirmations (needed when there is no terminal)'
            cand -q 'Print nothing but results and errors'
            cand --quiet 'Print nothing but results and errors'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'temps;status'= {
            cand --db 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]'
            cand -o 'How to print results: a table for people, one JSON document for scripts'
            cand --output 'How to print results: a table for people, one JSON document for scripts'
            cand -y 'Answer yes to confirmations (needed when there is no terminal)'
            cand --yes 'Answer yes to confirmations (needed when there is no terminal)'
            cand -q 'Print nothing but results and errors'
            cand --quiet 'Print nothing but results and errors'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'temps;rollback'= {
            cand -p 'Project, when no deployment id is given'
            cand --project 'Project, when no deployment id is given'
            cand -e 'Environment, when no deployment id is given'
            cand --environment 'Environment, when no deployment id is given'
            cand --reason 'Why, for the history'
            cand --health-timeout 'Override the project''s health timeout for this rollback'
            cand --wait-lock 'When another operation holds the environment, wait up to this long instead of failing'
            cand --watch 'After a successful switch, watch the new deployment for this long and roll back by itself (exit 5) when its container exits or restarts, its health check fails 3 times in a row (probed every second), or, in proxy mode, 5xx answers make at least 10% of at least 20 requests within the last 10 s; 0s skips the watch. Ctrl-C only stops watching [default: the project''s --watch]'
            cand --db 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]'
            cand -o 'How to print results: a table for people, one JSON document for scripts'
            cand --output 'How to print results: a table for people, one JSON document for scripts'
            cand --dry-run 'Validate and print the plan; change nothing'
            cand --accept-schema 'Go back below the database''s schema floor: you ran the down migrations (recorded with your name in `schema_accepted_by`)'
            cand -y 'Answer yes to confirmations (needed when there is no terminal)'
            cand --yes 'Answer yes to confirmations (needed when there is no terminal)'
            cand -q 'Print nothing but results and errors'
            cand --quiet 'Print nothing but results and errors'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'temps;promote'= {
            cand --reason 'Why, for the history'
            cand --health-timeout 'Override the project''s health timeout for this promote'
            cand --wait-lock 'When another operation holds the environment, wait up to this long instead of failing'
            cand --watch 'After a successful switch, watch the new deployment for this long and roll back by itself (exit 5) when its container exits or restarts, its health check fails 3 times in a row (probed every second), or, in proxy mode, 5xx answers make at least 10% of at least 20 requests within the last 10 s; 0s skips the watch. Ctrl-C only stops watching [default: the project''s --watch]'
            cand --db 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]'
            cand -o 'How to print results: a table for people, one JSON document for scripts'
            cand --output 'How to print results: a table for people, one JSON document for scripts'
            cand --accept-schema 'Go back below the database''s schema floor: you ran the down migrations (recorded with your name in `schema_accepted_by`)'
            cand -y 'Answer yes to confirmations (needed when there is no terminal)'
            cand --yes 'Answer yes to confirmations (needed when there is no terminal)'
            cand -q 'Print nothing but results and errors'
            cand --quiet 'Print nothing but results and errors'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'temps;env'= {
            cand --db 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]'
            cand -o 'How to print results: a table for people, one JSON document for scripts'
            cand --output 'How to print results: a table for people, one JSON document for scripts'
            cand -y 'Answer yes to confirmations (needed when there is no terminal)'
            cand --yes 'Answer yes to confirmations (needed when there is no terminal)'
            cand -q 'Print nothing but results and errors'
            cand --quiet 'Print nothing but results and errors'
            cand -h 'Print help'
            cand --help 'Print help'
            cand set 'Set variables (applied to containers created from now on)'
            cand unset 'Remove variables'
            cand list 'List variables, values masked'
            cand ls 'List variables, values masked'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'temps;env;set'= {
            cand -e 'Environment name'
            cand --environment 'Environment name'
            cand --wait-lock 'When another operation holds the environment, wait up to this long instead of failing'
            cand --db 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]'
            cand -o 'How to print results: a table for people, one JSON document for scripts'
            cand --output 'How to print results: a table for people, one JSON document for scripts'
            cand -y 'Answer yes to confirmations (needed when there is no terminal)'
            cand --yes 'Answer yes to confirmations (needed when there is no terminal)'
            cand -q 'Print nothing but results and errors'
            cand --quiet 'Print nothing but results and errors'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'temps;env;unset'= {
            cand -e 'Environment name'
            cand --environment 'Environment name'
            cand --wait-lock 'When another operation holds the environment, wait up to this long instead of failing'
            cand --db 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]'
            cand -o 'How to print results: a table for people, one JSON document for scripts'
            cand --output 'How to print results: a table for people, one JSON document for scripts'
            cand -y 'Answer yes to confirmations (needed when there is no terminal)'
            cand --yes 'Answer yes to confirmations (needed when there is no terminal)'
            cand -q 'Print nothing but results and errors'
            cand --quiet 'Print nothing but results and errors'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'temps;env;list'= {
            cand -e 'Environment name'
            cand --environment 'Environment name'
            cand --db 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]'
            cand -o 'How to print results: a table for people, one JSON document for scripts'
            cand --output 'How to print results: a table for people, one JSON document for scripts'
            cand --reveal 'Print values instead of masking them'
            cand -y 'Answer yes to confirmations (needed when there is no terminal)'
            cand --yes 'Answer yes to confirmations (needed when there is no terminal)'
            cand -q 'Print nothing but results and errors'
            cand --quiet 'Print nothing but results and errors'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'temps;env;ls'= {
            cand -e 'Environment name'
            cand --environment 'Environment name'
            cand --db 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]'
            cand -o 'How to print results: a table for people, one JSON document for scripts'
            cand --output 'How to print results: a table for people, one JSON document for scripts'
            cand --reveal 'Print values instead of masking them'
            cand -y 'Answer yes to confirmations (needed when there is no terminal)'
            cand --yes 'Answer yes to confirmations (needed when there is no terminal)'
            cand -q 'Print nothing but results and errors'
            cand --quiet 'Print nothing but results and errors'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'temps;env;help'= {
            cand set 'Set variables (applied to containers created from now on)'
            cand unset 'Remove variables'
            cand list 'List variables, values masked'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'temps;env;help;set'= {
        }
        &'temps;env;help;unset'= {
        }
        &'temps;env;help;list'= {
        }
        &'temps;env;help;help'= {
        }
        &'temps;prune'= {
            cand --keep 'How many successful deployments to keep per environment (the current one is always kept)'
            cand --wait-lock 'When another operation holds the environment, wait up to this long instead of failing'
            cand --db 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]'
            cand -o 'How to print results: a table for people, one JSON document for scripts'
            cand --output 'How to print results: a table for people, one JSON document for scripts'
            cand --dry-run 'List what would be removed; remove nothing'
            cand -y 'Answer yes to confirmations (needed when there is no terminal)'
            cand --yes 'Answer yes to confirmations (needed when there is no terminal)'
            cand -q 'Print nothing but results and errors'
            cand --quiet 'Print nothing but results and errors'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'temps;completions'= {
            cand --db 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]'
            cand -o 'How to print results: a table for people, one JSON document for scripts'
            cand --output 'How to print results: a table for people, one JSON document for scripts'
            cand -y 'Answer yes to confirmations (needed when there is no terminal)'
            cand --yes 'Answer yes to confirmations (needed when there is no terminal)'
            cand -q 'Print nothing but results and errors'
            cand --quiet 'Print nothing but results and errors'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'temps;proxy'= {
            cand --poll-interval 'How often to look for route changes in the history (a switch also wakes the proxy)'
            cand --shutdown-timeout 'How long SIGTERM or SIGINT waits for the requests in flight before exiting'
            cand --idle-timeout 'Close a client connection that has no request in progress for this long (HTTP/1.1: between requests; h2c: no stream open, whatever PINGs it sends)'
            cand --max-connections 'Hold at most this many client connections at once; one more is closed as soon as it is accepted, until some end'
            cand --http 'Also listen on this plain address (usually `0.0.0.0:80`): answer ACME''s HTTP-01 challenges, and send every other request for an HTTPS domain to `https://` with 308; other hosts are served as on any address in proxy mode'
            cand --acme-directory 'The ACME directory that certificates for `--tls acme` come from (Let''s Encrypt''s staging one, a private CA)'
            cand --acme-email 'The contact address of the ACME account (the CA''s expiry notices go there)'
            cand --acme-ca-root 'Trust this root (PEM) for the ACME directory''s own HTTPS certificate, for a CA whose certificate is not in the system''s roots'
            cand --metrics 'Serve Prometheus metrics (the text format) on this address, at `/metrics`: requests, durations and upstream errors per deployment, open connections, route switches, certificate expiries. No authentication: keep it on loopback or a network only the scraper reaches'
            cand --db 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]'
            cand -o 'How to print results: a table for people, one JSON document for scripts'
            cand --output 'How to print results: a table for people, one JSON document for scripts'
            cand -y 'Answer yes to confirmations (needed when there is no terminal)'
            cand --yes 'Answer yes to confirmations (needed when there is no terminal)'
            cand -q 'Print nothing but results and errors'
            cand --quiet 'Print nothing but results and errors'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'temps;serve'= {
            cand --listen 'Where to listen (port 0: one the system chooses); `temps serve: listening on URL` on stderr says where it listens'
            cand --tls-cert 'TLS certificate chain (PEM); needs --tls-key'
            cand --tls-key 'TLS private key (PEM); needs --tls-cert'
            cand --public-url 'The dashboard''s address as browsers open it (`https://temps.example.com`), when a proxy in front changes the scheme or host: a cookie request that changes something must come from this origin [default: the request''s own scheme and host]'
            cand --shutdown-timeout 'How long SIGTERM or SIGINT waits for operations in flight before exiting'
            cand --idle-timeout 'Close a client connection that has no request in progress for this long (HTTP/1.1: between requests; HTTP/2: no stream open, whatever PINGs it sends)'
            cand --metrics 'Also serve Prometheus metrics (operations, automatic rollbacks, what serves) on this loopback address, at `/metrics`, without a token (`GET /metrics` on the API''s address asks for an admin token)'
            cand --db 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]'
            cand -o 'How to print results: a table for people, one JSON document for scripts'
            cand --output 'How to print results: a table for people, one JSON document for scripts'
            cand --insecure-http 'Serve plain HTTP on an address that is not loopback (a TLS-terminating proxy stands in front)'
            cand -y 'Answer yes to confirmations (needed when there is no terminal)'
            cand --yes 'Answer yes to confirmations (needed when there is no terminal)'
            cand -q 'Print nothing but results and errors'
            cand --quiet 'Print nothing but results and errors'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'temps;token'= {
            cand --db 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]'
            cand -o 'How to print results: a table for people, one JSON document for scripts'
            cand --output 'How to print results: a table for people, one JSON document for scripts'
            cand -y 'Answer yes to confirmations (needed when there is no terminal)'
            cand --yes 'Answer yes to confirmations (needed when there is no terminal)'
            cand -q 'Print nothing but results and errors'
            cand --quiet 'Print nothing but results and errors'
            cand -h 'Print help'
            cand --help 'Print help'
            cand create 'Make a token; its secret is printed once and only its SHA-256 is kept'
            cand list 'List the tokens (never their secrets), with their last use'
            cand ls 'List the tokens (never their secrets), with their last use'
            cand revoke 'Revoke a token: it stops working at once'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'temps;token;create'= {
            cand --role 'What the token may do'
            cand --project 'Only this project (anything else answers 404)'
            cand --environment 'Only this environment of the project'
            cand --expires 'Stop working after this long (like 90d or 12h) [default: never]'
            cand --db 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]'
            cand -o 'How to print results: a table for people, one JSON document for scripts'
            cand --output 'How to print results: a table for people, one JSON document for scripts'
            cand -y 'Answer yes to confirmations (needed when there is no terminal)'
            cand --yes 'Answer yes to confirmations (needed when there is no terminal)'
            cand -q 'Print nothing but results and errors'
            cand --quiet 'Print nothing but results and errors'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'temps;token;list'= {
            cand --db 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]'
            cand -o 'How to print results: a table for people, one JSON document for scripts'
            cand --output 'How to print results: a table for people, one JSON document for scripts'
            cand -y 'Answer yes to confirmations (needed when there is no terminal)'
            cand --yes 'Answer yes to confirmations (needed when there is no terminal)'
            cand -q 'Print nothing but results and errors'
            cand --quiet 'Print nothing but results and errors'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'temps;token;ls'= {
            cand --db 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]'
            cand -o 'How to print results: a table for people, one JSON document for scripts'
            cand --output 'How to print results: a table for people, one JSON document for scripts'
            cand -y 'Answer yes to confirmations (needed when there is no terminal)'
            cand --yes 'Answer yes to confirmations (needed when there is no terminal)'
            cand -q 'Print nothing but results and errors'
            cand --quiet 'Print nothing but results and errors'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'temps;token;revoke'= {
            cand --db 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]'
            cand -o 'How to print results: a table for people, one JSON document for scripts'
            cand --output 'How to print results: a table for people, one JSON document for scripts'
            cand -y 'Answer yes to confirmations (needed when there is no terminal)'
            cand --yes 'Answer yes to confirmations (needed when there is no terminal)'
            cand -q 'Print nothing but results and errors'
            cand --quiet 'Print nothing but results and errors'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'temps;token;help'= {
            cand create 'Make a token; its secret is printed once and only its SHA-256 is kept'
            cand list 'List the tokens (never their secrets), with their last use'
            cand revoke 'Revoke a token: it stops working at once'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'temps;token;help;create'= {
        }
        &'temps;token;help;list'= {
        }
        &'temps;token;help;revoke'= {
        }
        &'temps;token;help;help'= {
        }
        &'temps;notify'= {
            cand --db 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]'
            cand -o 'How to print results: a table for people, one JSON document for scripts'
            cand --output 'How to print results: a table for people, one JSON document for scripts'
            cand -y 'Answer yes to confirmations (needed when there is no terminal)'
            cand --yes 'Answer yes to confirmations (needed when there is no terminal)'
            cand -q 'Print nothing but results and errors'
            cand --quiet 'Print nothing but results and errors'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand add 'Add a webhook'
            cand list 'List the webhooks (never their secrets)'
            cand ls 'List the webhooks (never their secrets)'
            cand remove 'Remove a webhook and its deliveries'
            cand test 'Send a test event to a webhook now, and say how it answered'
            cand deliveries 'Show the latest delivery attempts, newest first'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'temps;notify;add'= {
            cand --url 'Where events are POSTed (http:// or https://)'
            cand --secret 'Sign each body with HMAC-SHA256 under this secret (kept in the history, never printed back)'
            cand --events 'The events to send, comma-separated: deploy, rollback, promote, automatic-rollback, canary-aborted, failed [default: all]'
            cand --format 'The body''s format'
            cand --db 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]'
            cand -o 'How to print results: a table for people, one JSON document for scripts'
            cand --output 'How to print results: a table for people, one JSON document for scripts'
            cand -y 'Answer yes to confirmations (needed when there is no terminal)'
            cand --yes 'Answer yes to confirmations (needed when there is no terminal)'
            cand -q 'Print nothing but results and errors'
            cand --quiet 'Print nothing but results and errors'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'temps;notify;list'= {
            cand --db 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]'
            cand -o 'How to print results: a table for people, one JSON document for scripts'
            cand --output 'How to print results: a table for people, one JSON document for scripts'
            cand -y 'Answer yes to confirmations (needed when there is no terminal)'
            cand --yes 'Answer yes to confirmations (needed when there is no terminal)'
            cand -q 'Print nothing but results and errors'
            cand --quiet 'Print nothing but results and errors'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'temps;notify;ls'= {
            cand --db 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]'
            cand -o 'How to print results: a table for people, one JSON document for scripts'
            cand --output 'How to print results: a table for people, one JSON document for scripts'
            cand -y 'Answer yes to confirmations (needed when there is no terminal)'
            cand --yes 'Answer yes to confirmations (needed when there is no terminal)'
            cand -q 'Print nothing but results and errors'
            cand --quiet 'Print nothing but results and errors'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'temps;notify;remove'= {
            cand --db 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]'
            cand -o 'How to print results: a table for people, one JSON document for scripts'
            cand --output 'How to print results: a table for people, one JSON document for scripts'
            cand -y 'Answer yes to confirmations (needed when there is no terminal)'
            cand --yes 'Answer yes to confirmations (needed when there is no terminal)'
            cand -q 'Print nothing but results and errors'
            cand --quiet 'Print nothing but results and errors'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'temps;notify;test'= {
            cand --db 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]'
            cand -o 'How to print results: a table for people, one JSON document for scripts'
            cand --output 'How to print results: a table for people, one JSON document for scripts'
            cand -y 'Answer yes to confirmations (needed when there is no terminal)'
            cand --yes 'Answer yes to confirmations (needed when there is no terminal)'
            cand -q 'Print nothing but results and errors'
            cand --quiet 'Print nothing but results and errors'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'temps;notify;deliveries'= {
            cand --limit 'How many attempts to show'
            cand --db 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]'
            cand -o 'How to print results: a table for people, one JSON document for scripts'
            cand --output 'How to print results: a table for people, one JSON document for scripts'
            cand -y 'Answer yes to confirmations (needed when there is no terminal)'
            cand --yes 'Answer yes to confirmations (needed when there is no terminal)'
            cand -q 'Print nothing but results and errors'
            cand --quiet 'Print nothing but results and errors'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'temps;notify;help'= {
            cand add 'Add a webhook'
            cand list 'List the webhooks (never their secrets)'
            cand remove 'Remove a webhook and its deliveries'
            cand test 'Send a test event to a webhook now, and say how it answered'
            cand deliveries 'Show the latest delivery attempts, newest first'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'temps;notify;help;add'= {
        }
        &'temps;notify;help;list'= {
        }
        &'temps;notify;help;remove'= {
        }
        &'temps;notify;help;test'= {
        }
        &'temps;notify;help;deliveries'= {
        }
        &'temps;notify;help;help'= {
        }
        &'temps;help'= {
            cand project 'Register and configure projects'
            cand deploy 'Deploy an image (docker preset) or a directory (static preset)'
            cand list 'Show a project''s deployment history, newest first'
            cand show 'Show one deployment in full'
            cand status 'Show what each environment serves, and any drift between the history and Docker'
            cand rollback 'Run an earlier deployment''s image again, without rebuilding'
            cand promote 'Make a deployment serve and leave the rolled-back state'
            cand env 'Manage an environment''s variables'
            cand prune 'Remove old deployments'' containers, pinned tags and releases'
            cand completions 'Print a shell completion script'
            cand proxy 'Run the zero-downtime proxy for every environment in proxy mode (foreground)'
            cand serve 'Run the HTTP API and the dashboard (foreground)'
            cand token 'Create, list and revoke the API''s tokens'
            cand notify 'Tell webhooks what happened to environments'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'temps;help;project'= {
            cand create 'Register a project'
            cand update 'Change a project''s settings'
            cand list 'List projects'
            cand show 'Show a project''s settings and environments'
        }
        &'temps;help;project;create'= {
        }
        &'temps;help;project;update'= {
        }
        &'temps;help;project;list'= {
        }
        &'temps;help;project;show'= {
        }
        &'temps;help;deploy'= {
        }
        &'temps;help;list'= {
        }
        &'temps;help;show'= {
        }
        &'temps;help;status'= {
        }
        &'temps;help;rollback'= {
        }
        &'temps;help;promote'= {
        }
        &'temps;help;env'= {
            cand set 'Set variables (applied to containers created from now on)'
            cand unset 'Remove variables'
            cand list 'List variables, values masked'
        }
        &'temps;help;env;set'= {
        }
        &'temps;help;env;unset'= {
        }
        &'temps;help;env;list'= {
        }
        &'temps;help;prune'= {
        }
        &'temps;help;completions'= {
        }
        &'temps;help;proxy'= {
        }
        &'temps;help;serve'= {
        }
        &'temps;help;token'= {
            cand create 'Make a token; its secret is printed once and only its SHA-256 is kept'
            cand list 'List the tokens (never their secrets), with their last use'
            cand revoke 'Revoke a token: it stops working at once'
        }
        &'temps;help;token;create'= {
        }
        &'temps;help;token;list'= {
        }
        &'temps;help;token;revoke'= {
        }
        &'temps;help;notify'= {
            cand add 'Add a webhook'
            cand list 'List the webhooks (never their secrets)'
            cand remove 'Remove a webhook and its deliveries'
            cand test 'Send a test event to a webhook now, and say how it answered'
            cand deliveries 'Show the latest delivery attempts, newest first'
        }
        &'temps;help;notify;add'= {
        }
        &'temps;help;notify;list'= {
        }
        &'temps;help;notify;remove'= {
        }
        &'temps;help;notify;test'= {
        }
        &'temps;help;notify;deliveries'= {
        }
        &'temps;help;help'= {
        }
    ]
    $completions[$command]
}
