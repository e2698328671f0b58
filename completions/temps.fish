# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_temps_global_optspecs
    string join \n db= o/output= y/yes q/quiet h/help V/version
end

function __fish_temps_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_temps_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_temps_using_subcommand
    set -l cmd (__fish_temps_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c temps -n "__fish_temps_needs_command" -l db -d 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]' -r -F
complete -c temps -n "__fish_temps_needs_command" -s o -l output -d 'How to print results: a table for people, one JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c temps -n "__fish_temps_needs_command" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c temps -n "__fish_temps_needs_command" -s q -l quiet -d 'Print nothing but results and errors'
complete -c temps -n "__fish_temps_needs_command" -s h -l help -d 'Print help'
complete -c temps -n "__fish_temps_needs_command" -s V -l version -d 'Print version'
complete -c temps -n "__fish_temps_needs_command" -f -a "project" -d 'Register and configure projects'
complete -c temps -n "__fish_temps_needs_command" -f -a "deploy" -d 'Deploy an image (docker preset) or a directory (static preset)'
complete -c temps -n "__fish_temps_needs_command" -f -a "list" -d 'Show a project\'s deployment history, newest first'
complete -c temps -n "__fish_temps_needs_command" -f -a "ls" -d 'Show a project\'s deployment history, newest first'
complete -c temps -n "__fish_temps_needs_command" -f -a "show" -d 'Show one deployment in full'
complete -c temps -n "__fish_temps_needs_command" -f -a "status" -d 'Show what each environment serves, and any drift between the history and Docker'
complete -c temps -n "__fish_temps_needs_command" -f -a "rollback" -d 'Run an earlier deployment\'s image again, without rebuilding'
complete -c temps -n "__fish_temps_needs_command" -f -a "promote" -d 'Make a deployment serve and leave the rolled-back state'
complete -c temps -n "__fish_temps_needs_command" -f -a "env" -d 'Manage an environment\'s variables'
complete -c temps -n "__fish_temps_needs_command" -f -a "prune" -d 'Remove old deployments\' containers, pinned tags and releases'
complete -c temps -n "__fish_temps_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c temps -n "__fish_temps_needs_command" -f -a "proxy" -d 'Run the zero-downtime proxy for every environment in proxy mode (foreground)'
complete -c temps -n "__fish_temps_needs_command" -f -a "serve" -d 'Run the HTTP API and the dashboard (foreground)'
complete -c temps -n "__fish_temps_needs_command" -f -a "token" -d 'Create, list and revoke the API\'s tokens'
complete -c temps -n "__fish_temps_needs_command" -f -a "notify" -d 'Tell webhooks what happened to environments'
complete -c temps -n "__fish_temps_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c temps -n "__fish_temps_using_subcommand project; and not __fish_seen_subcommand_from create update list ls show help" -l db -d 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]' -r -F
complete -c temps -n "__fish_temps_using_subcommand project; and not __fish_seen_subcommand_from create update list ls show help" -s o -l output -d 'How to print results: a table for people, one JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c temps -n "__fish_temps_using_subcommand project; and not __fish_seen_subcommand_from create update list ls show help" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c temps -n "__fish_temps_using_subcommand project; and not __fish_seen_subcommand_from create update list ls show help" -s q -l quiet -d 'Print nothing but results and errors'
complete -c temps -n "__fish_temps_using_subcommand project; and not __fish_seen_subcommand_from create update list ls show help" -s h -l help -d 'Print help'
complete -c temps -n "__fish_temps_using_subcommand project; and not __fish_seen_subcommand_from create update list ls show help" -f -a "create" -d 'Register a project'
complete -c temps -n "__fish_temps_using_subcommand project; and not __fish_seen_subcommand_from create update list ls show help" -f -a "update" -d 'Change a project\'s settings'
complete -c temps -n "__fish_temps_using_subcommand project; and not __fish_seen_subcommand_from create update list ls show help" -f -a "list" -d 'List projects'
complete -c temps -n "__fish_temps_using_subcommand project; and not __fish_seen_subcommand_from create update list ls show help" -f -a "ls" -d 'List projects'
complete -c temps -n "__fish_temps_using_subcommand project; and not __fish_seen_subcommand_from create update list ls show help" -f -a "show" -d 'Show a project\'s settings and environments'
complete -c temps -n "__fish_temps_using_subcommand project; and not __fish_seen_subcommand_from create update list ls show help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c temps -n "__fish_temps_using_subcommand project; and __fish_seen_subcommand_from create" -l preset -d 'What a deployment is' -r -f -a "docker\t'Containers from Docker images'
static\t'A directory of files behind a `current` symlink'"
complete -c temps -n "__fish_temps_using_subcommand project; and __fish_seen_subcommand_from create" -l container-port -d 'The port the app listens on inside its container [default: the image\'s first EXPOSE]' -r
complete -c temps -n "__fish_temps_using_subcommand project; and __fish_seen_subcommand_from create" -l health-path -d 'Health check: HTTP GET this path and expect 2xx or 3xx (`""` to unset)' -r
complete -c temps -n "__fish_temps_using_subcommand project; and __fish_seen_subcommand_from create" -l health-timeout -d 'How long a new version may take to become healthy [default: 30s]' -r
complete -c temps -n "__fish_temps_using_subcommand project; and __fish_seen_subcommand_from create" -l health-interval -d 'Time between health probes [default: 50ms]' -r
complete -c temps -n "__fish_temps_using_subcommand project; and __fish_seen_subcommand_from create" -l stop-timeout -d 'How long a stopping container gets before it is killed [default: 10s]; temps says when a container had to be killed (it ignored SIGTERM)' -r
complete -c temps -n "__fish_temps_using_subcommand project; and __fish_seen_subcommand_from create" -l hooks -d 'A folder of hooks: executables named pre-deploy, post-deploy, pre-rollback, post-rollback, pre-promote, post-promote (`""` to unset)' -r
complete -c temps -n "__fish_temps_using_subcommand project; and __fish_seen_subcommand_from create" -l hook-timeout -d 'How long a hook may run before it is killed and counts as failed [default: 30s]' -r
complete -c temps -n "__fish_temps_using_subcommand project; and __fish_seen_subcommand_from create" -l watch -d 'The watch window deploy, rollback and promote use when not given --watch [default: 0s, no watch]' -r
complete -c temps -n "__fish_temps_using_subcommand project; and __fish_seen_subcommand_from create" -l db -d 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]' -r -F
complete -c temps -n "__fish_temps_using_subcommand project; and __fish_seen_subcommand_from create" -s o -l output -d 'How to print results: a table for people, one JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c temps -n "__fish_temps_using_subcommand project; and __fish_seen_subcommand_from create" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c temps -n "__fish_temps_using_subcommand project; and __fish_seen_subcommand_from create" -s q -l quiet -d 'Print nothing but results and errors'
complete -c temps -n "__fish_temps_using_subcommand project; and __fish_seen_subcommand_from create" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c temps -n "__fish_temps_using_subcommand project; and __fish_seen_subcommand_from update" -l container-port -d 'The port the app listens on inside its container [default: the image\'s first EXPOSE]' -r
complete -c temps -n "__fish_temps_using_subcommand project; and __fish_seen_subcommand_from update" -l health-path -d 'Health check: HTTP GET this path and expect 2xx or 3xx (`""` to unset)' -r
complete -c temps -n "__fish_temps_using_subcommand project; and __fish_seen_subcommand_from update" -l health-timeout -d 'How long a new version may take to become healthy [default: 30s]' -r
complete -c temps -n "__fish_temps_using_subcommand project; and __fish_seen_subcommand_from update" -l health-interval -d 'Time between health probes [default: 50ms]' -r
complete -c temps -n "__fish_temps_using_subcommand project; and __fish_seen_subcommand_from update" -l stop-timeout -d 'How long a stopping container gets before it is killed [default: 10s]; temps says when a container had to be killed (it ignored SIGTERM)' -r
complete -c temps -n "__fish_temps_using_subcommand project; and __fish_seen_subcommand_from update" -l hooks -d 'A folder of hooks: executables named pre-deploy, post-deploy, pre-rollback, post-rollback, pre-promote, post-promote (`""` to unset)' -r
complete -c temps -n "__fish_temps_using_subcommand project; and __fish_seen_subcommand_from update" -l hook-timeout -d 'How long a hook may run before it is killed and counts as failed [default: 30s]' -r
complete -c temps -n "__fish_temps_using_subcommand project; and __fish_seen_subcommand_from update" -l watch -d 'The watch window deploy, rollback and promote use when not given --watch [default: 0s, no watch]' -r
complete -c temps -n "__fish_temps_using_subcommand project; and __fish_seen_subcommand_from update" -l db -d 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]' -r -F
complete -c temps -n "__fish_temps_using_subcommand project; and __fish_seen_subcommand_from update" -s o -l output -d 'How to print results: a table for people, one JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c temps -n "__fish_temps_using_subcommand project; and __fish_seen_subcommand_from update" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c temps -n "__fish_temps_using_subcommand project; and __fish_seen_subcommand_from update" -s q -l quiet -d 'Print nothing but results and errors'
complete -c temps -n "__fish_temps_using_subcommand project; and __fish_seen_subcommand_from update" -s h -l help -d 'Print help'
complete -c temps -n "__fish_temps_using_subcommand project; and __fish_seen_subcommand_from list" -l db -d 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]' -r -F
complete -c temps -n "__fish_temps_using_subcommand project; and __fish_seen_subcommand_from list" -s o -l output -d 'How to print results: a table for people, one JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c temps -n "__fish_temps_using_subcommand project; and __fish_seen_subcommand_from list" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c temps -n "__fish_temps_using_subcommand project; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print nothing but results and errors'
complete -c temps -n "__fish_temps_using_subcommand project; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c temps -n "__fish_temps_using_subcommand project; and __fish_seen_subcommand_from ls" -l db -d 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]' -r -F
complete -c temps -n "__fish_temps_using_subcommand project; and __fish_seen_subcommand_from ls" -s o -l output -d 'How to print results: a table for people, one JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c temps -n "__fish_temps_using_subcommand project; and __fish_seen_subcommand_from ls" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c temps -n "__fish_temps_using_subcommand project; and __fish_seen_subcommand_from ls" -s q -l quiet -d 'Print nothing but results and errors'
complete -c temps -n "__fish_temps_using_subcommand project; and __fish_seen_subcommand_from ls" -s h -l help -d 'Print help'
complete -c temps -n "__fish_temps_using_subcommand project; and __fish_seen_subcommand_from show" -l db -d 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]' -r -F
complete -c temps -n "__fish_temps_using_subcommand project; and __fish_seen_subcommand_from show" -s o -l output -d 'How to print results: a table for people, one JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c temps -n "__fish_temps_using_subcommand project; and __fish_seen_subcommand_from show" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c temps -n "__fish_temps_using_subcommand project; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Print nothing but results and errors'
complete -c temps -n "__fish_temps_using_subcommand project; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c temps -n "__fish_temps_using_subcommand project; and __fish_seen_subcommand_from help" -f -a "create" -d 'Register a project'
complete -c temps -n "__fish_temps_using_subcommand project; and __fish_seen_subcommand_from help" -f -a "update" -d 'Change a project\'s settings'
complete -c temps -n "__fish_temps_using_subcommand project; and __fish_seen_subcommand_from help" -f -a "list" -d 'List projects'
complete -c temps -n "__fish_temps_using_subcommand project; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show a project\'s settings and environments'
complete -c temps -n "__fish_temps_using_subcommand project; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c temps -n "__fish_temps_using_subcommand deploy" -l image -d 'Image to deploy (docker preset); pulled when not on the host' -r
complete -c temps -n "__fish_temps_using_subcommand deploy" -l dir -d 'Directory to release (static preset)' -r -F
complete -c temps -n "__fish_temps_using_subcommand deploy" -s e -l environment -d 'Environment name' -r
complete -c temps -n "__fish_temps_using_subcommand deploy" -l publish -d 'Publish the container port on this host port; remembered by the environment, even when its first deploy fails. In swarm mode: PORT only, published in host mode on every node that runs a task' -r
complete -c temps -n "__fish_temps_using_subcommand deploy" -l proxy -d 'Serve through `temps proxy` on this public address, switching with no downtime (start first, switch, drain, stop); remembered by the environment' -r
complete -c temps -n "__fish_temps_using_subcommand deploy" -l replicas -d 'Proxy mode: how many containers to run, round-robin; swarm mode: how many tasks [default: 1; remembered]' -r
complete -c temps -n "__fish_temps_using_subcommand deploy" -l drain -d 'Proxy mode: how long requests in flight may take to finish on the old version before it is stopped [default: 30s; remembered]' -r
complete -c temps -n "__fish_temps_using_subcommand deploy" -l response-timeout -d 'Proxy mode: how long the app\'s answer may take to begin once the request was sent to it whole; after that the proxy answers 504 Gateway Timeout and closes the connection to the app [default: 60s; 0s for no limit; remembered]' -r
complete -c temps -n "__fish_temps_using_subcommand deploy" -l domain -d 'Proxy mode: a host this environment answers on its address (repeat for more; `*.example.com` for every name one label under it). Environments of any project may share one `--proxy` address when each names its domains; a request for no known domain gets 404, unless one environment there answers every other host (the address\'s catch-all: `--domain \'*\'`, or none given while alone on the address). Joining an address others share by domain without naming domains or \'*\', or claiming a domain another environment there holds, is refused (exit 4) [remembered]' -r
complete -c temps -n "__fish_temps_using_subcommand deploy" -l standby -d 'Proxy mode: after a switch, how long the replaced deployment\'s containers keep running with no traffic, so that a rollback or promote to it only switches the route (the warm path); 0s stops them once drained [default: 30m; remembered]' -r
complete -c temps -n "__fish_temps_using_subcommand deploy" -l health-timeout -d 'How long the new version may take to become healthy, for this deploy only (an app that is slow to start); the project\'s --health-timeout stays as it is' -r
complete -c temps -n "__fish_temps_using_subcommand deploy" -l tls -d 'Proxy mode: serve HTTPS on the `--proxy` address, with certificates the proxy gets and renews itself (`acme`, Let\'s Encrypt by default; see `temps proxy`), or plain HTTP again (`off`). Needs `--domain` (exact names only with `acme`); every environment on one address is HTTPS or none is (else exit 4) [default: off; remembered]' -r -f -a "acme\t'Certificates from an ACME CA, got and renewed by `temps proxy`'
off\t'Plain HTTP'"
complete -c temps -n "__fish_temps_using_subcommand deploy" -l tls-cert -d 'Proxy mode: serve HTTPS with this certificate chain (PEM, leaf first), which must be valid now and name every `--domain` (wildcards allowed); needs --tls-key. Checked at deploy (exit 2 or 4, nothing changed) and kept in the history [remembered]' -r -F
complete -c temps -n "__fish_temps_using_subcommand deploy" -l tls-key -d 'The private key of --tls-cert (PEM); it must be the certificate\'s' -r -F
complete -c temps -n "__fish_temps_using_subcommand deploy" -l hsts -d 'Proxy mode, with HTTPS: add `Strict-Transport-Security: max-age=SECONDS` to the app\'s answers (when they have none); 0s for none [default: none; remembered]' -r
complete -c temps -n "__fish_temps_using_subcommand deploy" -l schema -d 'The database schema this release migrates to: a number (42, 20240611093000) or dotted numbers (2.10); else the image\'s `dev.temps.schema` label. A rollback or promote to a deployment below the database\'s floor is refused (exit 4)' -r
complete -c temps -n "__fish_temps_using_subcommand deploy" -l schema-compat -d 'The oldest schema whose code still runs against this release\'s schema (an expand migration keeps old code working); else the image\'s `dev.temps.schema.compat` label [default: --schema: not backward compatible]' -r
complete -c temps -n "__fish_temps_using_subcommand deploy" -l reason -d 'Why this deployment is made, for the history' -r
complete -c temps -n "__fish_temps_using_subcommand deploy" -l wait-lock -d 'When another operation holds the environment, wait up to this long instead of failing' -r
complete -c temps -n "__fish_temps_using_subcommand deploy" -l watch -d 'After a successful switch, watch the new deployment for this long and roll back by itself (exit 5) when its container exits or restarts, its health check fails 3 times in a row (probed every second), or, in proxy mode, 5xx answers make at least 10% of at least 20 requests within the last 10 s; 0s skips the watch. Ctrl-C only stops watching [default: the project\'s --watch]' -r
complete -c temps -n "__fish_temps_using_subcommand deploy" -l db -d 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]' -r -F
complete -c temps -n "__fish_temps_using_subcommand deploy" -s o -l output -d 'How to print results: a table for people, one JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c temps -n "__fish_temps_using_subcommand deploy" -l swarm -d 'Run the environment as one Docker Swarm service, `temps-PROJECT-ENVIRONMENT`, on the swarm whose manager DOCKER_HOST names (else exit 4); remembered. The tag is resolved once, in its registry, to its repository digest (repo@sha256:...), which every node pulls and every later rollback or promote uses'
complete -c temps -n "__fish_temps_using_subcommand deploy" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c temps -n "__fish_temps_using_subcommand deploy" -s q -l quiet -d 'Print nothing but results and errors'
complete -c temps -n "__fish_temps_using_subcommand deploy" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c temps -n "__fish_temps_using_subcommand list" -s e -l environment -d 'Only this environment' -r
complete -c temps -n "__fish_temps_using_subcommand list" -l limit -d 'How many deployments, newest first (0 for all)' -r
complete -c temps -n "__fish_temps_using_subcommand list" -l db -d 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]' -r -F
complete -c temps -n "__fish_temps_using_subcommand list" -s o -l output -d 'How to print results: a table for people, one JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c temps -n "__fish_temps_using_subcommand list" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c temps -n "__fish_temps_using_subcommand list" -s q -l quiet -d 'Print nothing but results and errors'
complete -c temps -n "__fish_temps_using_subcommand list" -s h -l help -d 'Print help'
complete -c temps -n "__fish_temps_using_subcommand ls" -s e -l environment -d 'Only this environment' -r
complete -c temps -n "__fish_temps_using_subcommand ls" -l limit -d 'How many deployments, newest first (0 for all)' -r
complete -c temps -n "__fish_temps_using_subcommand ls" -l db -d 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]' -r -F
complete -c temps -n "__fish_temps_using_subcommand ls" -s o -l output -d 'How to print results: a table for people, one JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c temps -n "__fish_temps_using_subcommand ls" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c temps -n "__fish_temps_using_subcommand ls" -s q -l quiet -d 'Print nothing but results and errors'
complete -c temps -n "__fish_temps_using_subcommand ls" -s h -l help -d 'Print help'
complete -c temps -n "__fish_temps_using_subcommand show" -l db -d 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]' -r -F
complete -c temps -n "__fish_temps_using_subcommand show" -s o -l output -d 'How to print results: a table for people, one JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c temps -n "__fish_temps_using_subcommand show" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c temps -n "__fish_temps_using_subcommand show" -s q -l quiet -d 'Print nothing but results and errors'
complete -c temps -n "__fish_temps_using_subcommand show" -s h -l help -d 'Print help'
complete -c temps -n "__fish_temps_using_subcommand status" -l db -d 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]' -r -F
complete -c temps -n "__fish_temps_using_subcommand status" -s o -l output -d 'How to print results: a table for people, one JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c temps -n "__fish_temps_using_subcommand status" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c temps -n "__fish_temps_using_subcommand status" -s q -l quiet -d 'Print nothing but results and errors'
complete -c temps -n "__fish_temps_using_subcommand status" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c temps -n "__fish_temps_using_subcommand rollback" -s p -l project -d 'Project, when no deployment id is given' -r
complete -c temps -n "__fish_temps_using_subcommand rollback" -s e -l environment -d 'Environment, when no deployment id is given' -r
complete -c temps -n "__fish_temps_using_subcommand rollback" -l reason -d 'Why, for the history' -r
complete -c temps -n "__fish_temps_using_subcommand rollback" -l health-timeout -d 'Override the project\'s health timeout for this rollback' -r
complete -c temps -n "__fish_temps_using_subcommand rollback" -l wait-lock -d 'When another operation holds the environment, wait up to this long instead of failing' -r
complete -c temps -n "__fish_temps_using_subcommand rollback" -l watch -d 'After a successful switch, watch the new deployment for this long and roll back by itself (exit 5) when its container exits or restarts, its health check fails 3 times in a row (probed every second), or, in proxy mode, 5xx answers make at least 10% of at least 20 requests within the last 10 s; 0s skips the watch. Ctrl-C only stops watching [default: the project\'s --watch]' -r
complete -c temps -n "__fish_temps_using_subcommand rollback" -l db -d 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]' -r -F
complete -c temps -n "__fish_temps_using_subcommand rollback" -s o -l output -d 'How to print results: a table for people, one JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c temps -n "__fish_temps_using_subcommand rollback" -l dry-run -d 'Validate and print the plan; change nothing'
complete -c temps -n "__fish_temps_using_subcommand rollback" -l accept-schema -d 'Go back below the database\'s schema floor: you ran the down migrations (recorded with your name in `schema_accepted_by`)'
complete -c temps -n "__fish_temps_using_subcommand rollback" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c temps -n "__fish_temps_using_subcommand rollback" -s q -l quiet -d 'Print nothing but results and errors'
complete -c temps -n "__fish_temps_using_subcommand rollback" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c temps -n "__fish_temps_using_subcommand promote" -l reason -d 'Why, for the history' -r
complete -c temps -n "__fish_temps_using_subcommand promote" -l health-timeout -d 'Override the project\'s health timeout for this promote' -r
complete -c temps -n "__fish_temps_using_subcommand promote" -l wait-lock -d 'When another operation holds the environment, wait up to this long instead of failing' -r
complete -c temps -n "__fish_temps_using_subcommand promote" -l watch -d 'After a successful switch, watch the new deployment for this long and roll back by itself (exit 5) when its container exits or restarts, its health check fails 3 times in a row (probed every second), or, in proxy mode, 5xx answers make at least 10% of at least 20 requests within the last 10 s; 0s skips the watch. Ctrl-C only stops watching [default: the project\'s --watch]' -r
complete -c temps -n "__fish_temps_using_subcommand promote" -l db -d 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]' -r -F
complete -c temps -n "__fish_temps_using_subcommand promote" -s o -l output -d 'How to print results: a table for people, one JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c temps -n "__fish_temps_using_subcommand promote" -l accept-schema -d 'Go back below the database\'s schema floor: you ran the down migrations (recorded with your name in `schema_accepted_by`)'
complete -c temps -n "__fish_temps_using_subcommand promote" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c temps -n "__fish_temps_using_subcommand promote" -s q -l quiet -d 'Print nothing but results and errors'
complete -c temps -n "__fish_temps_using_subcommand promote" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c temps -n "__fish_temps_using_subcommand env; and not __fish_seen_subcommand_from set unset list ls help" -l db -d 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]' -r -F
complete -c temps -n "__fish_temps_using_subcommand env; and not __fish_seen_subcommand_from set unset list ls help" -s o -l output -d 'How to print results: a table for people, one JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c temps -n "__fish_temps_using_subcommand env; and not __fish_seen_subcommand_from set unset list ls help" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c temps -n "__fish_temps_using_subcommand env; and not __fish_seen_subcommand_from set unset list ls help" -s q -l quiet -d 'Print nothing but results and errors'
complete -c temps -n "__fish_temps_using_subcommand env; and not __fish_seen_subcommand_from set unset list ls help" -s h -l help -d 'Print help'
complete -c temps -n "__fish_temps_using_subcommand env; and not __fish_seen_subcommand_from set unset list ls help" -f -a "set" -d 'Set variables (applied to containers created from now on)'
complete -c temps -n "__fish_temps_using_subcommand env; and not __fish_seen_subcommand_from set unset list ls help" -f -a "unset" -d 'Remove variables'
complete -c temps -n "__fish_temps_using_subcommand env; and not __fish_seen_subcommand_from set unset list ls help" -f -a "list" -d 'List variables, values masked'
complete -c temps -n "__fish_temps_using_subcommand env; and not __fish_seen_subcommand_from set unset list ls help" -f -a "ls" -d 'List variables, values masked'
complete -c temps -n "__fish_temps_using_subcommand env; and not __fish_seen_subcommand_from set unset list ls help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c temps -n "__fish_temps_using_subcommand env; and __fish_seen_subcommand_from set" -s e -l environment -d 'Environment name' -r
complete -c temps -n "__fish_temps_using_subcommand env; and __fish_seen_subcommand_from set" -l wait-lock -d 'When another operation holds the environment, wait up to this long instead of failing' -r
complete -c temps -n "__fish_temps_using_subcommand env; and __fish_seen_subcommand_from set" -l db -d 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]' -r -F
complete -c temps -n "__fish_temps_using_subcommand env; and __fish_seen_subcommand_from set" -s o -l output -d 'How to print results: a table for people, one JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c temps -n "__fish_temps_using_subcommand env; and __fish_seen_subcommand_from set" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c temps -n "__fish_temps_using_subcommand env; and __fish_seen_subcommand_from set" -s q -l quiet -d 'Print nothing but results and errors'
complete -c temps -n "__fish_temps_using_subcommand env; and __fish_seen_subcommand_from set" -s h -l help -d 'Print help'
complete -c temps -n "__fish_temps_using_subcommand env; and __fish_seen_subcommand_from unset" -s e -l environment -d 'Environment name' -r
complete -c temps -n "__fish_temps_using_subcommand env; and __fish_seen_subcommand_from unset" -l wait-lock -d 'When another operation holds the environment, wait up to this long instead of failing' -r
complete -c temps -n "__fish_temps_using_subcommand env; and __fish_seen_subcommand_from unset" -l db -d 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]' -r -F
complete -c temps -n "__fish_temps_using_subcommand env; and __fish_seen_subcommand_from unset" -s o -l output -d 'How to print results: a table for people, one JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c temps -n "__fish_temps_using_subcommand env; and __fish_seen_subcommand_from unset" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c temps -n "__fish_temps_using_subcommand env; and __fish_seen_subcommand_from unset" -s q -l quiet -d 'Print nothing but results and errors'
complete -c temps -n "__fish_temps_using_subcommand env; and __fish_seen_subcommand_from unset" -s h -l help -d 'Print help'
complete -c temps -n "__fish_temps_using_subcommand env; and __fish_seen_subcommand_from list" -s e -l environment -d 'Environment name' -r
complete -c temps -n "__fish_temps_using_subcommand env; and __fish_seen_subcommand_from list" -l db -d 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]' -r -F
complete -c temps -n "__fish_temps_using_subcommand env; and __fish_seen_subcommand_from list" -s o -l output -d 'How to print results: a table for people, one JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c temps -n "__fish_temps_using_subcommand env; and __fish_seen_subcommand_from list" -l reveal -d 'Print values instead of masking them'
complete -c temps -n "__fish_temps_using_subcommand env; and __fish_seen_subcommand_from list" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c temps -n "__fish_temps_using_subcommand env; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print nothing but results and errors'
complete -c temps -n "__fish_temps_using_subcommand env; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c temps -n "__fish_temps_using_subcommand env; and __fish_seen_subcommand_from ls" -s e -l environment -d 'Environment name' -r
complete -c temps -n "__fish_temps_using_subcommand env; and __fish_seen_subcommand_from ls" -l db -d 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]' -r -F
complete -c temps -n "__fish_temps_using_subcommand env; and __fish_seen_subcommand_from ls" -s o -l output -d 'How to print results: a table for people, one JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c temps -n "__fish_temps_using_subcommand env; and __fish_seen_subcommand_from ls" -l reveal -d 'Print values instead of masking them'
complete -c temps -n "__fish_temps_using_subcommand env; and __fish_seen_subcommand_from ls" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c temps -n "__fish_temps_using_subcommand env; and __fish_seen_subcommand_from ls" -s q -l quiet -d 'Print nothing but results and errors'
complete -c temps -n "__fish_temps_using_subcommand env; and __fish_seen_subcommand_from ls" -s h -l help -d 'Print help'
complete -c temps -n "__fish_temps_using_subcommand env; and __fish_seen_subcommand_from help" -f -a "set" -d 'Set variables (applied to containers created from now on)'
complete -c temps -n "__fish_temps_using_subcommand env; and __fish_seen_subcommand_from help" -f -a "unset" -d 'Remove variables'
complete -c temps -n "__fish_temps_using_subcommand env; and __fish_seen_subcommand_from help" -f -a "list" -d 'List variables, values masked'
complete -c temps -n "__fish_temps_using_subcommand env; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c temps -n "__fish_temps_using_subcommand prune" -l keep -d 'How many successful deployments to keep per environment (the current one is always kept)' -r
complete -c temps -n "__fish_temps_using_subcommand prune" -l wait-lock -d 'When another operation holds the environment, wait up to this long instead of failing' -r
complete -c temps -n "__fish_temps_using_subcommand prune" -l db -d 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]' -r -F
complete -c temps -n "__fish_temps_using_subcommand prune" -s o -l output -d 'How to print results: a table for people, one JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c temps -n "__fish_temps_using_subcommand prune" -l dry-run -d 'List what would be removed; remove nothing'
complete -c temps -n "__fish_temps_using_subcommand prune" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c temps -n "__fish_temps_using_subcommand prune" -s q -l quiet -d 'Print nothing but results and errors'
complete -c temps -n "__fish_temps_using_subcommand prune" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c temps -n "__fish_temps_using_subcommand completions" -l db -d 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]' -r -F
complete -c temps -n "__fish_temps_using_subcommand completions" -s o -l output -d 'How to print results: a table for people, one JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c temps -n "__fish_temps_using_subcommand completions" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c temps -n "__fish_temps_using_subcommand completions" -s q -l quiet -d 'Print nothing but results and errors'
complete -c temps -n "__fish_temps_using_subcommand completions" -s h -l help -d 'Print help'
complete -c temps -n "__fish_temps_using_subcommand proxy" -l poll-interval -d 'How often to look for route changes in the history (a switch also wakes the proxy)' -r
complete -c temps -n "__fish_temps_using_subcommand proxy" -l shutdown-timeout -d 'How long SIGTERM or SIGINT waits for the requests in flight before exiting' -r
complete -c temps -n "__fish_temps_using_subcommand proxy" -l idle-timeout -d 'Close a client connection that has no request in progress for this long (HTTP/1.1: between requests; h2c: no stream open, whatever PINGs it sends)' -r
complete -c temps -n "__fish_temps_using_subcommand proxy" -l max-connections -d 'Hold at most this many client connections at once; one more is closed as soon as it is accepted, until some end' -r
complete -c temps -n "__fish_temps_using_subcommand proxy" -l http -d 'Also listen on this plain address (usually `0.0.0.0:80`): answer ACME\'s HTTP-01 challenges, and send every other request for an HTTPS domain to `https://` with 308; other hosts are served as on any address in proxy mode' -r
complete -c temps -n "__fish_temps_using_subcommand proxy" -l acme-directory -d 'The ACME directory that certificates for `--tls acme` come from (Let\'s Encrypt\'s staging one, a private CA)' -r
complete -c temps -n "__fish_temps_using_subcommand proxy" -l acme-email -d 'The contact address of the ACME account (the CA\'s expiry notices go there)' -r
complete -c temps -n "__fish_temps_using_subcommand proxy" -l acme-ca-root -d 'Trust this root (PEM) for the ACME directory\'s own HTTPS certificate, for a CA whose certificate is not in the system\'s roots' -r -F
complete -c temps -n "__fish_temps_using_subcommand proxy" -l metrics -d 'Serve Prometheus metrics (the text format) on this address, at `/metrics`: requests, durations and upstream errors per deployment, open connections, route switches, certificate expiries. No authentication: keep it on loopback or a network only the scraper reaches' -r
complete -c temps -n "__fish_temps_using_subcommand proxy" -l db -d 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]' -r -F
complete -c temps -n "__fish_temps_using_subcommand proxy" -s o -l output -d 'How to print results: a table for people, one JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c temps -n "__fish_temps_using_subcommand proxy" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c temps -n "__fish_temps_using_subcommand proxy" -s q -l quiet -d 'Print nothing but results and errors'
complete -c temps -n "__fish_temps_using_subcommand proxy" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c temps -n "__fish_temps_using_subcommand serve" -l listen -d 'Where to listen (port 0: one the system chooses); `temps serve: listening on URL` on stderr says where it listens' -r
complete -c temps -n "__fish_temps_using_subcommand serve" -l tls-cert -d 'TLS certificate chain (PEM); needs --tls-key' -r -F
complete -c temps -n "__fish_temps_using_subcommand serve" -l tls-key -d 'TLS private key (PEM); needs --tls-cert' -r -F
complete -c temps -n "__fish_temps_using_subcommand serve" -l public-url -d 'The dashboard\'s address as browsers open it (`https://temps.example.com`), when a proxy in front changes the scheme or host: a cookie request that changes something must come from this origin [default: the request\'s own scheme and host]' -r
complete -c temps -n "__fish_temps_using_subcommand serve" -l shutdown-timeout -d 'How long SIGTERM or SIGINT waits for operations in flight before exiting' -r
complete -c temps -n "__fish_temps_using_subcommand serve" -l idle-timeout -d 'Close a client connection that has no request in progress for this long (HTTP/1.1: between requests; HTTP/2: no stream open, whatever PINGs it sends)' -r
complete -c temps -n "__fish_temps_using_subcommand serve" -l metrics -d 'Also serve Prometheus metrics (operations, automatic rollbacks, what serves) on this loopback address, at `/metrics`, without a token (`GET /metrics` on the API\'s address asks for an admin token)' -r
complete -c temps -n "__fish_temps_using_subcommand serve" -l db -d 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]' -r -F
complete -c temps -n "__fish_temps_using_subcommand serve" -s o -l output -d 'How to print results: a table for people, one JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c temps -n "__fish_temps_using_subcommand serve" -l insecure-http -d 'Serve plain HTTP on an address that is not loopback (a TLS-terminating proxy stands in front)'
complete -c temps -n "__fish_temps_using_subcommand serve" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c temps -n "__fish_temps_using_subcommand serve" -s q -l quiet -d 'Print nothing but results and errors'
complete -c temps -n "__fish_temps_using_subcommand serve" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c temps -n "__fish_temps_using_subcommand token; and not __fish_seen_subcommand_from create list ls revoke help" -l db -d 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]' -r -F
complete -c temps -n "__fish_temps_using_subcommand token; and not __fish_seen_subcommand_from create list ls revoke help" -s o -l output -d 'How to print results: a table for people, one JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c temps -n "__fish_temps_using_subcommand token; and not __fish_seen_subcommand_from create list ls revoke help" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c temps -n "__fish_temps_using_subcommand token; and not __fish_seen_subcommand_from create list ls revoke help" -s q -l quiet -d 'Print nothing but results and errors'
complete -c temps -n "__fish_temps_using_subcommand token; and not __fish_seen_subcommand_from create list ls revoke help" -s h -l help -d 'Print help'
complete -c temps -n "__fish_temps_using_subcommand token; and not __fish_seen_subcommand_from create list ls revoke help" -f -a "create" -d 'Make a token; its secret is printed once and only its SHA-256 is kept'
complete -c temps -n "__fish_temps_using_subcommand token; and not __fish_seen_subcommand_from create list ls revoke help" -f -a "list" -d 'List the tokens (never their secrets), with their last use'
complete -c temps -n "__fish_temps_using_subcommand token; and not __fish_seen_subcommand_from create list ls revoke help" -f -a "ls" -d 'List the tokens (never their secrets), with their last use'
complete -c temps -n "__fish_temps_using_subcommand token; and not __fish_seen_subcommand_from create list ls revoke help" -f -a "revoke" -d 'Revoke a token: it stops working at once'
complete -c temps -n "__fish_temps_using_subcommand token; and not __fish_seen_subcommand_from create list ls revoke help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c temps -n "__fish_temps_using_subcommand token; and __fish_seen_subcommand_from create" -l role -d 'What the token may do' -r -f -a "reader\t'Read projects, deployments, status and progress'
responder\t'The on-call: also roll back and promote'
deployer\t'Also deploy new images'
admin\t'Also variables\' values, project settings and prune'"
complete -c temps -n "__fish_temps_using_subcommand token; and __fish_seen_subcommand_from create" -l project -d 'Only this project (anything else answers 404)' -r
complete -c temps -n "__fish_temps_using_subcommand token; and __fish_seen_subcommand_from create" -l environment -d 'Only this environment of the project' -r
complete -c temps -n "__fish_temps_using_subcommand token; and __fish_seen_subcommand_from create" -l expires -d 'Stop working after this long (like 90d or 12h) [default: never]' -r
complete -c temps -n "__fish_temps_using_subcommand token; and __fish_seen_subcommand_from create" -l db -d 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]' -r -F
complete -c temps -n "__fish_temps_using_subcommand token; and __fish_seen_subcommand_from create" -s o -l output -d 'How to print results: a table for people, one JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c temps -n "__fish_temps_using_subcommand token; and __fish_seen_subcommand_from create" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c temps -n "__fish_temps_using_subcommand token; and __fish_seen_subcommand_from create" -s q -l quiet -d 'Print nothing but results and errors'
complete -c temps -n "__fish_temps_using_subcommand token; and __fish_seen_subcommand_from create" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c temps -n "__fish_temps_using_subcommand token; and __fish_seen_subcommand_from list" -l db -d 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]' -r -F
complete -c temps -n "__fish_temps_using_subcommand token; and __fish_seen_subcommand_from list" -s o -l output -d 'How to print results: a table for people, one JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c temps -n "__fish_temps_using_subcommand token; and __fish_seen_subcommand_from list" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c temps -n "__fish_temps_using_subcommand token; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print nothing but results and errors'
complete -c temps -n "__fish_temps_using_subcommand token; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c temps -n "__fish_temps_using_subcommand token; and __fish_seen_subcommand_from ls" -l db -d 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]' -r -F
complete -c temps -n "__fish_temps_using_subcommand token; and __fish_seen_subcommand_from ls" -s o -l output -d 'How to print results: a table for people, one JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c temps -n "__fish_temps_using_subcommand token; and __fish_seen_subcommand_from ls" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c temps -n "__fish_temps_using_subcommand token; and __fish_seen_subcommand_from ls" -s q -l quiet -d 'Print nothing but results and errors'
complete -c temps -n "__fish_temps_using_subcommand token; and __fish_seen_subcommand_from ls" -s h -l help -d 'Print help'
complete -c temps -n "__fish_temps_using_subcommand token; and __fish_seen_subcommand_from revoke" -l db -d 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]' -r -F
complete -c temps -n "__fish_temps_using_subcommand token; and __fish_seen_subcommand_from revoke" -s o -l output -d 'How to print results: a table for people, one JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c temps -n "__fish_temps_using_subcommand token; and __fish_seen_subcommand_from revoke" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c temps -n "__fish_temps_using_subcommand token; and __fish_seen_subcommand_from revoke" -s q -l quiet -d 'Print nothing but results and errors'
complete -c temps -n "__fish_temps_using_subcommand token; and __fish_seen_subcommand_from revoke" -s h -l help -d 'Print help'
complete -c temps -n "__fish_temps_using_subcommand token; and __fish_seen_subcommand_from help" -f -a "create" -d 'Make a token; its secret is printed once and only its SHA-256 is kept'
complete -c temps -n "__fish_temps_using_subcommand token; and __fish_seen_subcommand_from help" -f -a "list" -d 'List the tokens (never their secrets), with their last use'
complete -c temps -n "__fish_temps_using_subcommand token; and __fish_seen_subcommand_from help" -f -a "revoke" -d 'Revoke a token: it stops working at once'
complete -c temps -n "__fish_temps_using_subcommand token; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c temps -n "__fish_temps_using_subcommand notify; and not __fish_seen_subcommand_from add list ls remove test deliveries help" -l db -d 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]' -r -F
complete -c temps -n "__fish_temps_using_subcommand notify; and not __fish_seen_subcommand_from add list ls remove test deliveries help" -s o -l output -d 'How to print results: a table for people, one JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c temps -n "__fish_temps_using_subcommand notify; and not __fish_seen_subcommand_from add list ls remove test deliveries help" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c temps -n "__fish_temps_using_subcommand notify; and not __fish_seen_subcommand_from add list ls remove test deliveries help" -s q -l quiet -d 'Print nothing but results and errors'
complete -c temps -n "__fish_temps_using_subcommand notify; and not __fish_seen_subcommand_from add list ls remove test deliveries help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c temps -n "__fish_temps_using_subcommand notify; and not __fish_seen_subcommand_from add list ls remove test deliveries help" -f -a "add" -d 'Add a webhook'
complete -c temps -n "__fish_temps_using_subcommand notify; and not __fish_seen_subcommand_from add list ls remove test deliveries help" -f -a "list" -d 'List the webhooks (never their secrets)'
complete -c temps -n "__fish_temps_using_subcommand notify; and not __fish_seen_subcommand_from add list ls remove test deliveries help" -f -a "ls" -d 'List the webhooks (never their secrets)'
complete -c temps -n "__fish_temps_using_subcommand notify; and not __fish_seen_subcommand_from add list ls remove test deliveries help" -f -a "remove" -d 'Remove a webhook and its deliveries'
complete -c temps -n "__fish_temps_using_subcommand notify; and not __fish_seen_subcommand_from add list ls remove test deliveries help" -f -a "test" -d 'Send a test event to a webhook now, and say how it answered'
complete -c temps -n "__fish_temps_using_subcommand notify; and not __fish_seen_subcommand_from add list ls remove test deliveries help" -f -a "deliveries" -d 'Show the latest delivery attempts, newest first'
complete -c temps -n "__fish_temps_using_subcommand notify; and not __fish_seen_subcommand_from add list ls remove test deliveries help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c temps -n "__fish_temps_using_subcommand notify; and __fish_seen_subcommand_from add" -l url -d 'Where events are POSTed (http:// or https://)' -r
complete -c temps -n "__fish_temps_using_subcommand notify; and __fish_seen_subcommand_from add" -l secret -d 'Sign each body with HMAC-SHA256 under this secret (kept in the history, never printed back)' -r
complete -c temps -n "__fish_temps_using_subcommand notify; and __fish_seen_subcommand_from add" -l events -d 'The events to send, comma-separated: deploy, rollback, promote, automatic-rollback, canary-aborted, failed [default: all]' -r
complete -c temps -n "__fish_temps_using_subcommand notify; and __fish_seen_subcommand_from add" -l format -d 'The body\'s format' -r -f -a "json\t'The event\'s JSON document'
slack\t'`{"text": "..."}`, for Slack\'s incoming webhooks and the chats that take its format'"
complete -c temps -n "__fish_temps_using_subcommand notify; and __fish_seen_subcommand_from add" -l db -d 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]' -r -F
complete -c temps -n "__fish_temps_using_subcommand notify; and __fish_seen_subcommand_from add" -s o -l output -d 'How to print results: a table for people, one JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c temps -n "__fish_temps_using_subcommand notify; and __fish_seen_subcommand_from add" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c temps -n "__fish_temps_using_subcommand notify; and __fish_seen_subcommand_from add" -s q -l quiet -d 'Print nothing but results and errors'
complete -c temps -n "__fish_temps_using_subcommand notify; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c temps -n "__fish_temps_using_subcommand notify; and __fish_seen_subcommand_from list" -l db -d 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]' -r -F
complete -c temps -n "__fish_temps_using_subcommand notify; and __fish_seen_subcommand_from list" -s o -l output -d 'How to print results: a table for people, one JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c temps -n "__fish_temps_using_subcommand notify; and __fish_seen_subcommand_from list" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c temps -n "__fish_temps_using_subcommand notify; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print nothing but results and errors'
complete -c temps -n "__fish_temps_using_subcommand notify; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c temps -n "__fish_temps_using_subcommand notify; and __fish_seen_subcommand_from ls" -l db -d 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]' -r -F
complete -c temps -n "__fish_temps_using_subcommand notify; and __fish_seen_subcommand_from ls" -s o -l output -d 'How to print results: a table for people, one JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c temps -n "__fish_temps_using_subcommand notify; and __fish_seen_subcommand_from ls" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c temps -n "__fish_temps_using_subcommand notify; and __fish_seen_subcommand_from ls" -s q -l quiet -d 'Print nothing but results and errors'
complete -c temps -n "__fish_temps_using_subcommand notify; and __fish_seen_subcommand_from ls" -s h -l help -d 'Print help'
complete -c temps -n "__fish_temps_using_subcommand notify; and __fish_seen_subcommand_from remove" -l db -d 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]' -r -F
complete -c temps -n "__fish_temps_using_subcommand notify; and __fish_seen_subcommand_from remove" -s o -l output -d 'How to print results: a table for people, one JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c temps -n "__fish_temps_using_subcommand notify; and __fish_seen_subcommand_from remove" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c temps -n "__fish_temps_using_subcommand notify; and __fish_seen_subcommand_from remove" -s q -l quiet -d 'Print nothing but results and errors'
complete -c temps -n "__fish_temps_using_subcommand notify; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help'
complete -c temps -n "__fish_temps_using_subcommand notify; and __fish_seen_subcommand_from test" -l db -d 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]' -r -F
complete -c temps -n "__fish_temps_using_subcommand notify; and __fish_seen_subcommand_from test" -s o -l output -d 'How to print results: a table for people, one JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c temps -n "__fish_temps_using_subcommand notify; and __fish_seen_subcommand_from test" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c temps -n "__fish_temps_using_subcommand notify; and __fish_seen_subcommand_from test" -s q -l quiet -d 'Print nothing but results and errors'
complete -c temps -n "__fish_temps_using_subcommand notify; and __fish_seen_subcommand_from test" -s h -l help -d 'Print help'
complete -c temps -n "__fish_temps_using_subcommand notify; and __fish_seen_subcommand_from deliveries" -l limit -d 'How many attempts to show' -r
complete -c temps -n "__fish_temps_using_subcommand notify; and __fish_seen_subcommand_from deliveries" -l db -d 'The history database [default: $XDG_DATA_HOME/temps/temps.db, else ~/.local/share/temps/temps.db]' -r -F
complete -c temps -n "__fish_temps_using_subcommand notify; and __fish_seen_subcommand_from deliveries" -s o -l output -d 'How to print results: a table for people, one JSON document for scripts' -r -f -a "table\t''
json\t''"
complete -c temps -n "__fish_temps_using_subcommand notify; and __fish_seen_subcommand_from deliveries" -s y -l yes -d 'Answer yes to confirmations (needed when there is no terminal)'
complete -c temps -n "__fish_temps_using_subcommand notify; and __fish_seen_subcommand_from deliveries" -s q -l quiet -d 'Print nothing but results and errors'
complete -c temps -n "__fish_temps_using_subcommand notify; and __fish_seen_subcommand_from deliveries" -s h -l help -d 'Print help'
complete -c temps -n "__fish_temps_using_subcommand notify; and __fish_seen_subcommand_from help" -f -a "add" -d 'Add a webhook'
complete -c temps -n "__fish_temps_using_subcommand notify; and __fish_seen_subcommand_from help" -f -a "list" -d 'List the webhooks (never their secrets)'
complete -c temps -n "__fish_temps_using_subcommand notify; and __fish_seen_subcommand_from help" -f -a "remove" -d 'Remove a webhook and its deliveries'
complete -c temps -n "__fish_temps_using_subcommand notify; and __fish_seen_subcommand_from help" -f -a "test" -d 'Send a test event to a webhook now, and say how it answered'
complete -c temps -n "__fish_temps_using_subcommand notify; and __fish_seen_subcommand_from help" -f -a "deliveries" -d 'Show the latest delivery attempts, newest first'
complete -c temps -n "__fish_temps_using_subcommand notify; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c temps -n "__fish_temps_using_subcommand help; and not __fish_seen_subcommand_from project deploy list show status rollback promote env prune completions proxy serve token notify help" -f -a "project" -d 'Register and configure projects'
complete -c temps -n "__fish_temps_using_subcommand help; and not __fish_seen_subcommand_from project deploy list show status rollback promote env prune completions proxy serve token notify help" -f -a "deploy" -d 'Deploy an image (docker preset) or a directory (static preset)'
complete -c temps -n "__fish_temps_using_subcommand help; and not __fish_seen_subcommand_from project deploy list show status rollback promote env prune completions proxy serve token notify help" -f -a "list" -d 'Show a project\'s deployment history, newest first'
complete -c temps -n "__fish_temps_using_subcommand help; and not __fish_seen_subcommand_from project deploy list show status rollback promote env prune completions proxy serve token notify help" -f -a "show" -d 'Show one deployment in full'
complete -c temps -n "__fish_temps_using_subcommand help; and not __fish_seen_subcommand_from project deploy list show status rollback promote env prune completions proxy serve token notify help" -f -a "status" -d 'Show what each environment serves, and any drift between the history and Docker'
complete -c temps -n "__fish_temps_using_subcommand help; and not __fish_seen_subcommand_from project deploy list show status rollback promote env prune completions proxy serve token notify help" -f -a "rollback" -d 'Run an earlier deployment\'s image again, without rebuilding'
complete -c temps -n "__fish_temps_using_subcommand help; and not __fish_seen_subcommand_from project deploy list show status rollback promote env prune completions proxy serve token notify help" -f -a "promote" -d 'Make a deployment serve and leave the rolled-back state'
complete -c temps -n "__fish_temps_using_subcommand help; and not __fish_seen_subcommand_from project deploy list show status rollback promote env prune completions proxy serve token notify help" -f -a "env" -d 'Manage an environment\'s variables'
complete -c temps -n "__fish_temps_using_subcommand help; and not __fish_seen_subcommand_from project deploy list show status rollback promote env prune completions proxy serve token notify help" -f -a "prune" -d 'Remove old deployments\' containers, pinned tags and releases'
complete -c temps -n "__fish_temps_using_subcommand help; and not __fish_seen_subcommand_from project deploy list show status rollback promote env prune completions proxy serve token notify help" -f -a "completions" -d 'Print a shell completion script'
complete -c temps -n "__fish_temps_using_subcommand help; and not __fish_seen_subcommand_from project deploy list show status rollback promote env prune completions proxy serve token notify help" -f -a "proxy" -d 'Run the zero-downtime proxy for every environment in proxy mode (foreground)'
complete -c temps -n "__fish_temps_using_subcommand help; and not __fish_seen_subcommand_from project deploy list show status rollback promote env prune completions proxy serve token notify help" -f -a "serve" -d 'Run the HTTP API and the dashboard (foreground)'
complete -c temps -n "__fish_temps_using_subcommand help; and not __fish_seen_subcommand_from project deploy list show status rollback promote env prune completions proxy serve token notify help" -f -a "token" -d 'Create, list and revoke the API\'s tokens'
complete -c temps -n "__fish_temps_using_subcommand help; and not __fish_seen_subcommand_from project deploy list show status rollback promote env prune completions proxy serve token notify help" -f -a "notify" -d 'Tell webhooks what happened to environments'
complete -c temps -n "__fish_temps_using_subcommand help; and not __fish_seen_subcommand_from project deploy list show status rollback promote env prune completions proxy serve token notify help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c temps -n "__fish_temps_using_subcommand help; and __fish_seen_subcommand_from project" -f -a "create" -d 'Register a project'
complete -c temps -n "__fish_temps_using_subcommand help; and __fish_seen_subcommand_from project" -f -a "update" -d 'Change a project\'s settings'
complete -c temps -n "__fish_temps_using_subcommand help; and __fish_seen_subcommand_from project" -f -a "list" -d 'List projects'
complete -c temps -n "__fish_temps_using_subcommand help; and __fish_seen_subcommand_from project" -f -a "show" -d 'Show a project\'s settings and environments'
complete -c temps -n "__fish_temps_using_subcommand help; and __fish_seen_subcommand_from env" -f -a "set" -d 'Set variables (applied to containers created from now on)'
complete -c temps -n "__fish_temps_using_subcommand help; and __fish_seen_subcommand_from env" -f -a "unset" -d 'Remove variables'
complete -c temps -n "__fish_temps_using_subcommand help; and __fish_seen_subcommand_from env" -f -a "list" -d 'List variables, values masked'
complete -c temps -n "__fish_temps_using_subcommand help; and __fish_seen_subcommand_from token" -f -a "create" -d 'Make a token; its secret is printed once and only its SHA-256 is kept'
complete -c temps -n "__fish_temps_using_subcommand help; and __fish_seen_subcommand_from token" -f -a "list" -d 'List the tokens (never their secrets), with their last use'
complete -c temps -n "__fish_temps_using_subcommand help; and __fish_seen_subcommand_from token" -f -a "revoke" -d 'Revoke a token: it stops working at once'
complete -c temps -n "__fish_temps_using_subcommand help; and __fish_seen_subcommand_from notify" -f -a "add" -d 'Add a webhook'
complete -c temps -n "__fish_temps_using_subcommand help; and __fish_seen_subcommand_from notify" -f -a "list" -d 'List the webhooks (never their secrets)'
complete -c temps -n "__fish_temps_using_subcommand help; and __fish_seen_subcommand_from notify" -f -a "remove" -d 'Remove a webhook and its deliveries'
complete -c temps -n "__fish_temps_using_subcommand help; and __fish_seen_subcommand_from notify" -f -a "test" -d 'Send a test event to a webhook now, and say how it answered'
complete -c temps -n "__fish_temps_using_subcommand help; and __fish_seen_subcommand_from notify" -f -a "deliveries" -d 'Show the latest delivery attempts, newest first'
