//! `sre-agent backends serve` and `sre-agent backends scenarios`.

use sre_mcp_backends::{
    AllowedHosts, Auth, HttpOptions, ServeOptions, Standalone, bundled_scenarios,
    shutdown_on_signal,
};

use crate::{
    app::{flush, install_telemetry},
    cli::ServeArgs,
    config::AppConfig,
    console::Style,
    error::AppError,
};

/// Prints the bundled scenarios.
pub fn scenarios() {
    let style = Style::detect();
    for scenario in bundled_scenarios() {
        super::out(&format!(
            "{:<24} {}\n",
            style.bold(scenario.name),
            scenario.title
        ));
    }
}

/// Serves the chosen tool servers until SIGTERM or Ctrl-C, with telemetry under the backends' own service
/// name (`k8s-backend` for one domain), so traces cross the process boundary.
pub async fn serve(config: &AppConfig, args: &ServeArgs) -> Result<(), AppError> {
    let usage = |e: &dyn std::fmt::Display| AppError::Usage(e.to_string());
    let domains = args.domain.domains();
    let service = match domains.as_slice() {
        [one] => one.service_name().to_owned(),
        _ => "sre-backends".to_owned(),
    };
    let auth = match &config.backend_auth {
        None => None,
        Some(sre_agents::tool_client::BackendAuth::ApiKey(key)) => {
            Some(Auth::api_key(key.clone()).map_err(|e| usage(&e))?)
        }
        Some(sre_agents::tool_client::BackendAuth::Bearer(token)) => {
            Some(Auth::bearer(token.clone()).map_err(|e| usage(&e))?)
        }
        Some(sre_agents::tool_client::BackendAuth::ClientCredentials(_)) => {
            return Err(AppError::Usage(
                "backends serve checks an API key or a bearer token; OAuth2 tokens are checked by the gateway in front of it".into(),
            ));
        }
    };
    let allowed_hosts = if args.allowed_hosts.is_empty() {
        AllowedHosts::default()
    } else {
        AllowedHosts::parse(&args.allowed_hosts).map_err(|e| usage(&e))?
    };
    let options = ServeOptions {
        domains,
        host: args.host,
        port_base: args.port_base,
        http: HttpOptions {
            auth,
            allowed_hosts,
            ..HttpOptions::default()
        },
        dataset: config.data.clone(),
    };
    options.validate().map_err(|e| usage(&e))?;

    let telemetry = install_telemetry(config, &service)?;
    let result = async {
        let shutdown = shutdown_on_signal().map_err(|e| AppError::Startup {
            what: "signal handler".into(),
            message: e.to_string(),
        })?;
        let servers = Standalone::bind(options)
            .await
            .map_err(|e| AppError::Startup {
                what: service.clone(),
                message: e.to_string(),
            })?;
        let style = Style::detect();
        for (domain, url) in servers.urls() {
            eprintln!(
                "{} {url}",
                style.bold(&format!("{domain:<9} backend listening on"))
            );
        }
        eprintln!(
            "serving until SIGTERM or Ctrl-C; spans go to {}",
            config.trace_file().display()
        );
        servers.run(shutdown).await.map_err(|e| AppError::Startup {
            what: service.clone(),
            message: e.to_string(),
        })
    }
    .await;
    flush(telemetry).await;
    result
}
