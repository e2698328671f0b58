
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'temps' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'temps'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'temps' {
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('project', 'project', [CompletionResultType]::ParameterValue, 'Register and configure projects')
            [CompletionResult]::new('deploy', 'deploy', [CompletionResultType]::ParameterValue, 'Deploy an image (docker preset) or a directory (static preset)')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'Show a project''s deployment history, newest first')
            [CompletionResult]::new('ls', 'ls', [CompletionResultType]::ParameterValue, 'Show a project''s deployment history, newest first')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one deployment in full')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show what each environment serves, and any drift between the history and Docker')
            [CompletionResult]::new('rollback', 'rollback', [CompletionResultType]::ParameterValue, 'Run an earlier deployment''s image again, without rebuilding')
            [CompletionResult]::new('promote', 'promote', [CompletionResultType]::ParameterValue, 'Make a deployment serve and leave the rolled-back state')
            [CompletionResult]::new('env', 'env', [CompletionResultType]::ParameterValue, 'Manage an environment''s variables')
            [CompletionResult]::new('prune', 'prune', [CompletionResultType]::ParameterValue, 'Remove old deployments'' containers, pinned tags and releases')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('proxy', 'proxy', [CompletionResultType]::ParameterValue, 'Run the zero-downtime proxy for every environment in proxy mode (foreground)')
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Run the HTTP API and the dashboard (foreground)')
            [CompletionResult]::new('token', 'token', [CompletionResultType]::ParameterValue, 'Create, list and revoke the API''s tokens')
            [CompletionResult]::new('notify', 'notify', [CompletionResultType]::ParameterValue, 'Tell webhooks what happened to environments')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'temps;project' {
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Register a project')
            [CompletionResult]::new('update', 'update', [CompletionResultType]::ParameterValue, 'Change a project''s settings')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List projects')
            [CompletionResult]::new('ls', 'ls', [CompletionResultType]::ParameterValue, 'List projects')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show a project''s settings and environments')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'temps;project;create' {
            [CompletionResult]::new('--preset', '--preset', [CompletionResultType]::ParameterName, 'What a deployment is')
            [CompletionResult]::new('--container-port', '--container-port', [CompletionResultType]::ParameterName, 'The port the app listens on inside its container [default: the image''s first EXPOSE]')
            [CompletionResult]::new('--health-path', '--health-path', [CompletionResultType]::ParameterName, 'Health check: HTTP GET this path and expect 2xx or 3xx (`""` to unset)')
            [CompletionResult]::new('--health-timeout', '--health-timeout', [CompletionResultType]::ParameterName, 'How long a new version may take to become healthy [default: 30s]')
            [CompletionResult]::new('--health-interval', '--health-interval', [CompletionResultType]::ParameterName, 'Time between health probes [default: 50ms]')
            [CompletionResult]::new('--stop-timeout', '--stop-timeout', [CompletionResultType]::ParameterName, 'How long a stopping container gets before it is killed [default: 10s]; temps says when a container had to be killed (it ignored SIGTERM)')
            [CompletionResult]::new('--hooks', '--hooks', [CompletionResultType]::ParameterName, 'A folder of hooks: executables named pre-deploy, post-deploy, pre-rollback, post-rollback, pre-promote, post-promote (`""` to unset)')
            [CompletionResult]::new('--hook-timeout', '--hook-timeout', [CompletionResultType]::ParameterName, 'How long a hook may run before it is killed and counts as failed [default: 30s]')
            [CompletionResult]::new('--watch', '--watch', [CompletionResultType]::ParameterName, 'The watch window deploy, rollback and promote use when not given --watch [default: 0s, no watch]')
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'temps;project;update' {
            [CompletionResult]::new('--container-port', '--container-port', [CompletionResultType]::ParameterName, 'The port the app listens on inside its container [default: the image''s first EXPOSE]')
            [CompletionResult]::new('--health-path', '--health-path', [CompletionResultType]::ParameterName, 'Health check: HTTP GET this path and expect 2xx or 3xx (`""` to unset)')
            [CompletionResult]::new('--health-timeout', '--health-timeout', [CompletionResultType]::ParameterName, 'How long a new version may take to become healthy [default: 30s]')
            [CompletionResult]::new('--health-interval', '--health-interval', [CompletionResultType]::ParameterName, 'Time between health probes [default: 50ms]')
            [CompletionResult]::new('--stop-timeout', '--stop-timeout', [CompletionResultType]::ParameterName, 'How long a stopping container gets before it is killed [default: 10s]; temps says when a container had to be killed (it ignored SIGTERM)')
            [CompletionResult]::new('--hooks', '--hooks', [CompletionResultType]::ParameterName, 'A folder of hooks: executables named pre-deploy, post-deploy, pre-rollback, post-rollback, pre-promote, post-promote (`""` to unset)')
            [CompletionResult]::new('--hook-timeout', '--hook-timeout', [CompletionResultType]::ParameterName, 'How long a hook may run before it is killed and counts as failed [default: 30s]')
            [CompletionResult]::new('--watch', '--watch', [CompletionResultType]::ParameterName, 'The watch window deploy, rollback and promote use when not given --watch [default: 0s, no watch]')
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'temps;project;list' {
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'temps;project;ls' {
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'temps;project;show' {
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'temps;project;help' {
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Register a project')
            [CompletionResult]::new('update', 'update', [CompletionResultType]::ParameterValue, 'Change a project''s settings')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List projects')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show a project''s settings and environments')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'temps;project;help;create' {
            break
        }
        'temps;project;help;update' {
            break
        }
        'temps;project;help;list' {
            break
        }
        'temps;project;help;show' {
            break
        }
        'temps;project;help;help' {
            break
        }
        'temps;deploy' {
            [CompletionResult]::new('--image', '--image', [CompletionResultType]::ParameterName, 'Image to deploy (docker preset); pulled when not on the host')
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'Directory to release (static preset)')
            [CompletionResult]::new('-e', '-e', [CompletionResultType]::ParameterName, 'Environment name')
            [CompletionResult]::new('--environment', '--environment', [CompletionResultType]::ParameterName, 'Environment name')
            [CompletionResult]::new('--publish', '--publish', [CompletionResultType]::ParameterName, 'Publish the container port on this host port; remembered by the environment, even when its first deploy fails. In swarm mode: PORT only, published in host mode on every node that runs a task')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Serve through `temps proxy` on this public address, switching with no downtime (start first, switch, drain, stop); remembered by the environment')
            [CompletionResult]::new('--replicas', '--replicas', [CompletionResultType]::ParameterName, 'Proxy mode: how many containers to run, round-robin; swarm mode: how many tasks [default: 1; remembered]')
            [CompletionResult]::new('--drain', '--drain', [CompletionResultType]::ParameterName, 'Proxy mode: how long requests in flight may take to finish on the old version before it is stopped [default: 30s; remembered]')
            [CompletionResult]::new('--response-timeout', '--response-timeout', [CompletionResultType]::ParameterName, 'Proxy mode: how long the app''s answer may take to begin once the request was sent to it whole; after that the proxy answers 504 Gateway Timeout and closes the connection to the app [default: 60s; 0s for no limit; remembered]')
            [CompletionResult]::new('--domain', '--domain', [CompletionResultType]::ParameterName, 'Proxy mode: a host this environment answers on its address (repeat for more; `*.example.com` for every name one label under it). Environments of any project may share one `--proxy` address when each names its domains; a request for no known domain gets 404, unless one environment there answers every other host (the address''s catch-all: `--domain ''*''`, or none given while alone on the address). Joining an address others share by domain without naming domains or ''*'', or claiming a domain another environment there holds, is refused (exit 4) [remembered]')
            [CompletionResult]::new('--standby', '--standby', [CompletionResultType]::ParameterName, 'Proxy mode: after a switch, how long the replaced deployment''s containers keep running with no traffic, so that a rollback or promote to it only switches the route (the warm path); 0s stops them once drained [default: 30m; remembered]')
            [CompletionResult]::new('--health-timeout', '--health-timeout', [CompletionResultType]::ParameterName, 'How long the new version may take to become healthy, for this deploy only (an app that is slow to start); the project''s --health-timeout stays as it is')
            [CompletionResult]::new('--tls', '--tls', [CompletionResultType]::ParameterName, 'Proxy mode: serve HTTPS on the `--proxy` address, with certificates the proxy gets and renews itself (`acme`, Let''s Encrypt by default; see `temps proxy`), or plain HTTP again (`off`). Needs `--domain` (exact names only with `acme`); every environment on one address is HTTPS or none is (else exit 4) [default: off; remembered]')
            [CompletionResult]::new('--tls-cert', '--tls-cert', [CompletionResultType]::ParameterName, 'Proxy mode: serve HTTPS with this certificate chain (PEM, leaf first), which must be valid now and name every `--domain` (wildcards allowed); needs --tls-key. Checked at deploy (exit 2 or 4, nothing changed) and kept in the history [remembered]')
            [CompletionResult]::new('--tls-key', '--tls-key', [CompletionResultType]::ParameterName, 'The private key of --tls-cert (PEM); it must be the certificate''s')
            [CompletionResult]::new('--hsts', '--hsts', [CompletionResultType]::ParameterName, 'Proxy mode, with HTTPS: add `Strict-Transport-Security: max-age=SECONDS` to the app''s answers (when they have none); 0s for none [default: none; remembered]')
            [CompletionResult]::new('--schema', '--schema', [CompletionResultType]::ParameterName, 'The database schema this release migrates to: a number (42, 20240611093000) or dotted numbers (2.10); else the image''s `dev.temps.schema` label. A rollback or promote to a deployment below the database''s floor is refused (exit 4)')
            [CompletionResult]::new('--schema-compat', '--schema-compat', [CompletionResultType]::ParameterName, 'The oldest schema whose code still runs against this release''s schema (an expand migration keeps old code working); else the image''s `dev.temps.schema.compat` label [default: --schema: not backward compatible]')
            [CompletionResult]::new('--reason', '--reason', [CompletionResultType]::ParameterName, 'Why this deployment is made, for the history')
            [CompletionResult]::new('--wait-lock', '--wait-lock', [CompletionResultType]::ParameterName, 'When another operation holds the environment, wait up to this long instead of failing')
            [CompletionResult]::new('--watch', '--watch', [CompletionResultType]::ParameterName, 'After a successful switch, watch the new deployment for this long and roll back by itself (exit 5) when its container exits or restarts, its health check fails 3 times in a row (probed every second), or, in proxy mode, 5xx answers make at least 10% of at least 20 requests within the last 10 s; 0s skips the watch. Ctrl-C only stops watching [default: the project''s --watch]')
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('--swarm', '--swarm', [CompletionResultType]::ParameterName, 'Run the environment as one Docker Swarm service, `temps-PROJECT-ENVIRONMENT`, on the swarm whose manager DOCKER_HOST names (else exit 4); remembered. The tag is resolved once, in its registry, to its repository digest (repo@sha256:...), which every node pulls and every later rollback or promote uses')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'temps;list' {
            [CompletionResult]::new('-e', '-e', [CompletionResultType]::ParameterName, 'Only this environment')
            [CompletionResult]::new('--environment', '--environment', [CompletionResultType]::ParameterName, 'Only this environment')
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'How many deployments, newest first (0 for all)')
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'temps;ls' {
            [CompletionResult]::new('-e', '-e', [CompletionResultType]::ParameterName, 'Only this environment')
            [CompletionResult]::new('--environment', '--environment', [CompletionResultType]::ParameterName, 'Only this environment')
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'How many deployments, newest first (0 for all)')
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'temps;show' {
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'temps;status' {
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'temps;rollback' {
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Project, when no deployment id is given')
            [CompletionResult]::new('--project', '--project', [CompletionResultType]::ParameterName, 'Project, when no deployment id is given')
            [CompletionResult]::new('-e', '-e', [CompletionResultType]::ParameterName, 'Environment, when no deployment id is given')
            [CompletionResult]::new('--environment', '--environment', [CompletionResultType]::ParameterName, 'Environment, when no deployment id is given')
            [CompletionResult]::new('--reason', '--reason', [CompletionResultType]::ParameterName, 'Why, for the history')
            [CompletionResult]::new('--health-timeout', '--health-timeout', [CompletionResultType]::ParameterName, 'Override the project''s health timeout for this rollback')
            [CompletionResult]::new('--wait-lock', '--wait-lock', [CompletionResultType]::ParameterName, 'When another operation holds the environment, wait up to this long instead of failing')
            [CompletionResult]::new('--watch', '--watch', [CompletionResultType]::ParameterName, 'After a successful switch, watch the new deployment for this long and roll back by itself (exit 5) when its container exits or restarts, its health check fails 3 times in a row (probed every second), or, in proxy mode, 5xx answers make at least 10% of at least 20 requests within the last 10 s; 0s skips the watch. Ctrl-C only stops watching [default: the project''s --watch]')
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Validate and print the plan; change nothing')
            [CompletionResult]::new('--accept-schema', '--accept-schema', [CompletionResultType]::ParameterName, 'Go back below the database''s schema floor: you ran the down migrations (recorded with your name in `schema_accepted_by`)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'temps;promote' {
            [CompletionResult]::new('--reason', '--reason', [CompletionResultType]::ParameterName, 'Why, for the history')
            [CompletionResult]::new('--health-timeout', '--health-timeout', [CompletionResultType]::ParameterName, 'Override the project''s health timeout for this promote')
            [CompletionResult]::new('--wait-lock', '--wait-lock', [CompletionResultType]::ParameterName, 'When another operation holds the environment, wait up to this long instead of failing')
            [CompletionResult]::new('--watch', '--watch', [CompletionResultType]::ParameterName, 'After a successful switch, watch the new deployment for this long and roll back by itself (exit 5) when its container exits or restarts, its health check fails 3 times in a row (probed every second), or, in proxy mode, 5xx answers make at least 10% of at least 20 requests within the last 10 s; 0s skips the watch. Ctrl-C only stops watching [default: the project''s --watch]')
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('--accept-schema', '--accept-schema', [CompletionResultType]::ParameterName, 'Go back below the database''s schema floor: you ran the down migrations (recorded with your name in `schema_accepted_by`)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'temps;env' {
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('set', 'set', [CompletionResultType]::ParameterValue, 'Set variables (applied to containers created from now on)')
            [CompletionResult]::new('unset', 'unset', [CompletionResultType]::ParameterValue, 'Remove variables')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List variables, values masked')
            [CompletionResult]::new('ls', 'ls', [CompletionResultType]::ParameterValue, 'List variables, values masked')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'temps;env;set' {
            [CompletionResult]::new('-e', '-e', [CompletionResultType]::ParameterName, 'Environment name')
            [CompletionResult]::new('--environment', '--environment', [CompletionResultType]::ParameterName, 'Environment name')
            [CompletionResult]::new('--wait-lock', '--wait-lock', [CompletionResultType]::ParameterName, 'When another operation holds the environment, wait up to this long instead of failing')
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'temps;env;unset' {
            [CompletionResult]::new('-e', '-e', [CompletionResultType]::ParameterName, 'Environment name')
            [CompletionResult]::new('--environment', '--environment', [CompletionResultType]::ParameterName, 'Environment name')
            [CompletionResult]::new('--wait-lock', '--wait-lock', [CompletionResultType]::ParameterName, 'When another operation holds the environment, wait up to this long instead of failing')
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'temps;env;list' {
            [CompletionResult]::new('-e', '-e', [CompletionResultType]::ParameterName, 'Environment name')
            [CompletionResult]::new('--environment', '--environment', [CompletionResultType]::ParameterName, 'Environment name')
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('--reveal', '--reveal', [CompletionResultType]::ParameterName, 'Print values instead of masking them')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'temps;env;ls' {
            [CompletionResult]::new('-e', '-e', [CompletionResultType]::ParameterName, 'Environment name')
            [CompletionResult]::new('--environment', '--environment', [CompletionResultType]::ParameterName, 'Environment name')
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('--reveal', '--reveal', [CompletionResultType]::ParameterName, 'Print values instead of masking them')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'temps;env;help' {
            [CompletionResult]::new('set', 'set', [CompletionResultType]::ParameterValue, 'Set variables (applied to containers created from now on)')
            [CompletionResult]::new('unset', 'unset', [CompletionResultType]::ParameterValue, 'Remove variables')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List variables, values masked')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'temps;env;help;set' {
            break
        }
        'temps;env;help;unset' {
            break
        }
        'temps;env;help;list' {
            break
        }
        'temps;env;help;help' {
            break
        }
        'temps;prune' {
            [CompletionResult]::new('--keep', '--keep', [CompletionResultType]::ParameterName, 'How many successful deployments to keep per environment (the current one is always kept)')
            [CompletionResult]::new('--wait-lock', '--wait-lock', [CompletionResultType]::ParameterName, 'When another operation holds the environment, wait up to this long instead of failing')
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'List what would be removed; remove nothing')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'temps;completions' {
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'temps;proxy' {
            [CompletionResult]::new('--poll-interval', '--poll-interval', [CompletionResultType]::ParameterName, 'How often to look for route changes in the history (a switch also wakes the proxy)')
            [CompletionResult]::new('--shutdown-timeout', '--shutdown-timeout', [CompletionResultType]::ParameterName, 'How long SIGTERM or SIGINT waits for the requests in flight before exiting')
            [CompletionResult]::new('--idle-timeout', '--idle-timeout', [CompletionResultType]::ParameterName, 'Close a client connection that has no request in progress for this long (HTTP/1.1: between requests; h2c: no stream open, whatever PINGs it sends)')
            [CompletionResult]::new('--max-connections', '--max-connections', [CompletionResultType]::ParameterName, 'Hold at most this many client connections at once; one more is closed as soon as it is accepted, until some end')
            [CompletionResult]::new('--http', '--http', [CompletionResultType]::ParameterName, 'Also listen on this plain address (usually `0.0.0.0:80`): answer ACME''s HTTP-01 challenges, and send every other request for an HTTPS domain to `https://` with 308; other hosts are served as on any address in proxy mode')
            [CompletionResult]::new('--acme-directory', '--acme-directory', [CompletionResultType]::ParameterName, 'The ACME directory that certificates for `--tls acme` come from (Let''s Encrypt''s staging one, a private CA)')
            [CompletionResult]::new('--acme-email', '--acme-email', [CompletionResultType]::ParameterName, 'The contact address of the ACME account (the CA''s expiry notices go there)')
            [CompletionResult]::new('--acme-ca-root', '--acme-ca-root', [CompletionResultType]::ParameterName, 'Trust this root (PEM) for the ACME directory''s own HTTPS certificate, for a CA whose certificate is not in the system''s roots')
            [CompletionResult]::new('--metrics', '--metrics', [CompletionResultType]::ParameterName, 'Serve Prometheus metrics (the text format) on this address, at `/metrics`: requests, durations and upstream errors per deployment, open connections, route switches, certificate expiries. No authentication: keep it on loopback or a network only the scraper reaches')
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'temps;serve' {
            [CompletionResult]::new('--listen', '--listen', [CompletionResultType]::ParameterName, 'Where to listen (port 0: one the system chooses); `temps serve: listening on URL` on stderr says where it listens')
            [CompletionResult]::new('--tls-cert', '--tls-cert', [CompletionResultType]::ParameterName, 'TLS certificate chain (PEM); needs --tls-key')
            [CompletionResult]::new('--tls-key', '--tls-key', [CompletionResultType]::ParameterName, 'TLS private key (PEM); needs --tls-cert')
            [CompletionResult]::new('--public-url', '--public-url', [CompletionResultType]::ParameterName, 'The dashboard''s address as browsers open it (`https://temps.example.com`), when a proxy in front changes the scheme or host: a cookie request that changes something must come from this origin [default: the request''s own scheme and host]')
            [CompletionResult]::new('--shutdown-timeout', '--shutdown-timeout', [CompletionResultType]::ParameterName, 'How long SIGTERM or SIGINT waits for operations in flight before exiting')
            [CompletionResult]::new('--idle-timeout', '--idle-timeout', [CompletionResultType]::ParameterName, 'Close a client connection that has no request in progress for this long (HTTP/1.1: between requests; HTTP/2: no stream open, whatever PINGs it sends)')
            [CompletionResult]::new('--metrics', '--metrics', [CompletionResultType]::ParameterName, 'Also serve Prometheus metrics (operations, automatic rollbacks, what serves) on this loopback address, at `/metrics`, without a token (`GET /metrics` on the API''s address asks for an admin token)')
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('--insecure-http', '--insecure-http', [CompletionResultType]::ParameterName, 'Serve plain HTTP on an address that is not loopback (a TLS-terminating proxy stands in front)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'temps;token' {
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Make a token; its secret is printed once and only its SHA-256 is kept')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the tokens (never their secrets), with their last use')
            [CompletionResult]::new('ls', 'ls', [CompletionResultType]::ParameterValue, 'List the tokens (never their secrets), with their last use')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Revoke a token: it stops working at once')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'temps;token;create' {
            [CompletionResult]::new('--role', '--role', [CompletionResultType]::ParameterName, 'What the token may do')
            [CompletionResult]::new('--project', '--project', [CompletionResultType]::ParameterName, 'Only this project (anything else answers 404)')
            [CompletionResult]::new('--environment', '--environment', [CompletionResultType]::ParameterName, 'Only this environment of the project')
            [CompletionResult]::new('--expires', '--expires', [CompletionResultType]::ParameterName, 'Stop working after this long (like 90d or 12h) [default: never]')
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'temps;token;list' {
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'temps;token;ls' {
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'temps;token;revoke' {
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'temps;token;help' {
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Make a token; its secret is printed once and only its SHA-256 is kept')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the tokens (never their secrets), with their last use')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Revoke a token: it stops working at once')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'temps;token;help;create' {
            break
        }
        'temps;token;help;list' {
            break
        }
        'temps;token;help;revoke' {
            break
        }
        'temps;token;help;help' {
            break
        }
        'temps;notify' {
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Add a webhook')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the webhooks (never their secrets)')
            [CompletionResult]::new('ls', 'ls', [CompletionResultType]::ParameterValue, 'List the webhooks (never their secrets)')
            [CompletionResult]::new('remove', 'remove', [CompletionResultType]::ParameterValue, 'Remove a webhook and its deliveries')
            [CompletionResult]::new('test', 'test', [CompletionResultType]::ParameterValue, 'Send a test event to a webhook now, and say how it answered')
            [CompletionResult]::new('deliveries', 'deliveries', [CompletionResultType]::ParameterValue, 'Show the latest delivery attempts, newest first')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'temps;notify;add' {
            [CompletionResult]::new('--url', '--url', [CompletionResultType]::ParameterName, 'Where events are POSTed (http:// or https://)')
            [CompletionResult]::new('--secret', '--secret', [CompletionResultType]::ParameterName, 'Sign each body with HMAC-SHA256 under this secret (kept in the history, never printed back)')
            [CompletionResult]::new('--events', '--events', [CompletionResultType]::ParameterName, 'The events to send, comma-separated: deploy, rollback, promote, automatic-rollback, canary-aborted, failed [default: all]')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'The body''s format')
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'temps;notify;list' {
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'temps;notify;ls' {
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'temps;notify;remove' {
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'temps;notify;test' {
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'temps;notify;deliveries' {
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'How many attempts to show')
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How to print results: a table for people, one JSON document for scripts')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations (needed when there is no terminal)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but results and errors')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'temps;notify;help' {
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Add a webhook')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the webhooks (never their secrets)')
            [CompletionResult]::new('remove', 'remove', [CompletionResultType]::ParameterValue, 'Remove a webhook and its deliveries')
            [CompletionResult]::new('test', 'test', [CompletionResultType]::ParameterValue, 'Send a test event to a webhook now, and say how it answered')
            [CompletionResult]::new('deliveries', 'deliveries', [CompletionResultType]::ParameterValue, 'Show the latest delivery attempts, newest first')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'temps;notify;help;add' {
            break
        }
        'temps;notify;help;list' {
            break
        }
        'temps;notify;help;remove' {
            break
        }
        'temps;notify;help;test' {
            break
        }
        'temps;notify;help;deliveries' {
            break
        }
        'temps;notify;help;help' {
            break
        }
        'temps;help' {
            [CompletionResult]::new('project', 'project', [CompletionResultType]::ParameterValue, 'Register and configure projects')
            [CompletionResult]::new('deploy', 'deploy', [CompletionResultType]::ParameterValue, 'Deploy an image (docker preset) or a directory (static preset)')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'Show a project''s deployment history, newest first')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one deployment in full')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show what each environment serves, and any drift between the history and Docker')
            [CompletionResult]::new('rollback', 'rollback', [CompletionResultType]::ParameterValue, 'Run an earlier deployment''s image again, without rebuilding')
            [CompletionResult]::new('promote', 'promote', [CompletionResultType]::ParameterValue, 'Make a deployment serve and leave the rolled-back state')
            [CompletionResult]::new('env', 'env', [CompletionResultType]::ParameterValue, 'Manage an environment''s variables')
            [CompletionResult]::new('prune', 'prune', [CompletionResultType]::ParameterValue, 'Remove old deployments'' containers, pinned tags and releases')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('proxy', 'proxy', [CompletionResultType]::ParameterValue, 'Run the zero-downtime proxy for every environment in proxy mode (foreground)')
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Run the HTTP API and the dashboard (foreground)')
            [CompletionResult]::new('token', 'token', [CompletionResultType]::ParameterValue, 'Create, list and revoke the API''s tokens')
            [CompletionResult]::new('notify', 'notify', [CompletionResultType]::ParameterValue, 'Tell webhooks what happened to environments')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'temps;help;project' {
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Register a project')
            [CompletionResult]::new('update', 'update', [CompletionResultType]::ParameterValue, 'Change a project''s settings')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List projects')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show a project''s settings and environments')
            break
        }
        'temps;help;project;create' {
            break
        }
        'temps;help;project;update' {
            break
        }
        'temps;help;project;list' {
            break
        }
        'temps;help;project;show' {
            break
        }
        'temps;help;deploy' {
            break
        }
        'temps;help;list' {
            break
        }
        'temps;help;show' {
            break
        }
        'temps;help;status' {
            break
        }
        'temps;help;rollback' {
            break
        }
        'temps;help;promote' {
            break
        }
        'temps;help;env' {
            [CompletionResult]::new('set', 'set', [CompletionResultType]::ParameterValue, 'Set variables (applied to containers created from now on)')
            [CompletionResult]::new('unset', 'unset', [CompletionResultType]::ParameterValue, 'Remove variables')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List variables, values masked')
            break
        }
        'temps;help;env;set' {
            break
        }
        'temps;help;env;unset' {
            break
        }
        'temps;help;env;list' {
            break
        }
        'temps;help;prune' {
            break
        }
        'temps;help;completions' {
            break
        }
        'temps;help;proxy' {
            break
        }
        'temps;help;serve' {
            break
        }
        'temps;help;token' {
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Make a token; its secret is printed once and only its SHA-256 is kept')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the tokens (never their secrets), with their last use')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Revoke a token: it stops working at once')
            break
        }
        'temps;help;token;create' {
            break
        }
        'temps;help;token;list' {
            break
        }
        'temps;help;token;revoke' {
            break
        }
        'temps;help;notify' {
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Add a webhook')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the webhooks (never their secrets)')
            [CompletionResult]::new('remove', 'remove', [CompletionResultType]::ParameterValue, 'Remove a webhook and its deliveries')
            [CompletionResult]::new('test', 'test', [CompletionResultType]::ParameterValue, 'Send a test event to a webhook now, and say how it answered')
            [CompletionResult]::new('deliveries', 'deliveries', [CompletionResultType]::ParameterValue, 'Show the latest delivery attempts, newest first')
            break
        }
        'temps;help;notify;add' {
            break
        }
        'temps;help;notify;list' {
            break
        }
        'temps;help;notify;remove' {
            break
        }
        'temps;help;notify;test' {
            break
        }
        'temps;help;notify;deliveries' {
            break
        }
        'temps;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
