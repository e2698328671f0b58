//! `temps project create|update|list|show`.

use anyhow::{Context as _, Result};

use super::Context;
use crate::cli::{Preset as CliPreset, ProjectCommand, ProjectSettings};
use crate::clock::format_duration;
use crate::error::{check_name, Failure};
use crate::ops::view::documents;
use crate::store::{Environment, Preset, Project, ProjectChanges};

pub fn cmd_project(ctx: &Context, command: ProjectCommand) -> Result<()> {
    match command {
        ProjectCommand::Create(args) => {
            check_name("project", &args.name)?;
            let preset = match args.preset {
                CliPreset::Docker => Preset::Docker,
                CliPreset::Static => Preset::Static,
            };
            let changes = changes(args.settings)?;
            let project = ctx.store()?.create_project(&args.name, preset, &changes)?;
            print_project(ctx, &project, &[])?;
            ctx.out.note(match preset {
                // Loopback: `--publish 8080` alone listens on every interface.
                Preset::Docker => format!(
                    "next: `temps deploy {0} --image IMAGE --publish 127.0.0.1:8080` \
                     (`--publish 0.0.0.0:8080` listens on every interface; \
                     `--proxy 0.0.0.0:80` serves through `temps proxy` with zero-downtime switches)",
                    project.name
                ),
                Preset::Static => format!("next: `temps deploy {} --dir PATH`", project.name),
            });
            Ok(())
        }
        ProjectCommand::Update(args) => {
            let changes = changes(args.settings)?;
            let mut store = ctx.store()?;
            let project = store.update_project(&args.name, &changes)?;
            let envs = store.environments(project.id)?;
            print_project(ctx, &project, &envs)
        }
        ProjectCommand::List => {
            let store = ctx.store()?;
            let projects = store.projects()?;
            if ctx.out.is_json() {
                let all: Vec<_> = projects
                    .iter()
                    .map(|p| documents::project(p, &[]))
                    .collect();
                return ctx.out.json(&all);
            }
            if projects.is_empty() {
                ctx.out
                    .note("no projects yet: `temps project create NAME` registers one");
                return Ok(());
            }
            let rows = projects
                .iter()
                .map(|p| {
                    vec![
                        p.name.clone(),
                        p.preset.as_str().to_string(),
                        p.container_port.map_or("-".into(), |port| port.to_string()),
                        p.health_path.clone().unwrap_or_else(|| "-".into()),
                    ]
                })
                .collect();
            ctx.out
                .table(&["NAME", "PRESET", "PORT", "HEALTH PATH"], rows);
            Ok(())
        }
        ProjectCommand::Show(args) => {
            let store = ctx.store()?;
            let project = store.project(&args.name)?;
            let envs = store.environments(project.id)?;
            print_project(ctx, &project, &envs)
        }
    }
}

fn changes(settings: ProjectSettings) -> Result<ProjectChanges> {
    if let Some(path) = &settings.health_path {
        if !path.is_empty()
            && (!path.starts_with('/') || path.chars().any(|c| c.is_whitespace() || c.is_control()))
        {
            return Err(Failure::usage(format!(
                "health path `{path}` must start with `/` and hold no spaces"
            ))
            .hint("like `--health-path /healthz`")
            .into());
        }
    }
    if settings.health_interval.is_some_and(|d| d.is_zero())
        || settings.health_timeout.is_some_and(|d| d.is_zero())
    {
        return Err(
            Failure::usage("health timeout and interval must be longer than 0")
                .hint("like `--health-timeout 30s --health-interval 50ms`")
                .into(),
        );
    }
    Ok(ProjectChanges {
        container_port: settings.container_port,
        health_path: settings.health_path,
        health_timeout: settings.health_timeout,
        health_interval: settings.health_interval,
        stop_timeout: settings.stop_timeout,
        hooks_dir: match settings.hooks {
            Some(dir) if dir.is_empty() => Some(String::new()),
            Some(dir) => {
                let dir = std::path::absolute(&dir)
                    .with_context(|| format!("resolving the hooks folder `{dir}`"))?;
                if !dir.is_dir() {
                    return Err(Failure::usage(format!(
                        "hooks folder `{}` is not a directory",
                        dir.display()
                    ))
                    .hint("create it and put executables named like `pre-rollback` in it")
                    .into());
                }
                Some(dir.to_string_lossy().into_owned())
            }
            None => None,
        },
        hook_timeout: settings.hook_timeout,
        watch: settings.watch,
    })
}

fn print_project(ctx: &Context, project: &Project, envs: &[Environment]) -> Result<()> {
    if ctx.out.is_json() {
        return ctx.out.json(&documents::project(project, envs));
    }
    let out = ctx.out;
    out.line(format!(
        "{}  ({} preset)",
        out.bold(&project.name),
        project.preset.as_str()
    ));
    if project.preset == Preset::Docker {
        out.line(format!(
            "  container port   {}",
            project
                .container_port
                .map_or("the image's first EXPOSE".into(), |p| p.to_string())
        ));
        out.line(format!(
            "  health check     {}",
            project.health_path.as_deref().map_or(
                "the image's HEALTHCHECK, else running + TCP".to_string(),
                |p| format!("GET {p}")
            )
        ));
        out.line(format!(
            "  health timeout   {} (probe every {})",
            format_duration(project.health_timeout),
            format_duration(project.health_interval)
        ));
        out.line(format!(
            "  stop timeout     {}",
            format_duration(project.stop_timeout)
        ));
    }
    if project.preset == Preset::Docker && !project.watch.is_zero() {
        out.line(format!(
            "  watch window     {}",
            format_duration(project.watch)
        ));
    }
    if let Some(dir) = &project.hooks_dir {
        out.line(format!(
            "  hooks            {} (timeout {})",
            crate::output::shown(dir),
            format_duration(project.hook_timeout)
        ));
    }
    for env in envs {
        let current = env
            .current_deployment_id
            .map_or("nothing".into(), |id| format!("#{id}"));
        let state = match env.state {
            crate::store::EnvState::RolledBack => format!("  {}", out.loud("ROLLED BACK")),
            crate::store::EnvState::Normal => String::new(),
        };
        let publish = env
            .publish
            .as_ref()
            .map_or(String::new(), |p| format!(", published on {p}"));
        let swarm = if env.swarm {
            format!(
                ", swarm service {} ({} replicas)",
                crate::docker::service_name(&project.name, &env.name),
                env.replicas
            )
        } else {
            String::new()
        };
        out.line(format!(
            "  environment {}: serving {current}{publish}{swarm}{state}",
            env.name
        ));
    }
    Ok(())
}
