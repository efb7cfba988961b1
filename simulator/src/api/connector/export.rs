//! The two files of the connector, assembled from the actions and triggers.

use serde_json::{Map, Value, json};

use super::actions::{THROTTLING, action, path};
use super::swagger::swagger2;
use super::triggers::trigger_op;
use crate::api::openapi::{Tenant, document};
use crate::api::routes::{ROUTES, path_param};
use crate::engine::Trigger;

/// The connector's files.
#[derive(Debug, Clone)]
pub struct Connector {
    /// `apiDefinition.swagger.json`.
    pub api_definition: Value,
    /// `apiProperties.json`.
    pub api_properties: Value,
}

/// Why the connector cannot be generated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectorError {
    #[error(
        "--host {0:?} is not an https:// or http:// URL with a host; give the public URL of your tunnel, e.g. https://abc123.ngrok.app"
    )]
    BadHost(String),
}

/// The helper operations the pickers call (internal: not shown as actions).
const PICKERS: &[&str] = &[
    "listInstances",
    "listDataSources",
    "listSegments",
    "listMeasures",
];

/// Generates the connector for a public `host` (`https://abc123.ngrok.app`).
pub fn connector(tenant: &Tenant, host: &str) -> Result<Connector, ConnectorError> {
    let (scheme, authority) = host
        .trim_end_matches('/')
        .split_once("://")
        .filter(|(s, a)| (*s == "https" || *s == "http") && !a.is_empty() && !a.contains('/'))
        .ok_or_else(|| ConnectorError::BadHost(host.to_owned()))?;
    let openapi = document(tenant, false);
    let mut definitions = Map::new();
    if let Some(schemas) = openapi["components"]["schemas"].as_object() {
        for (name, schema) in schemas {
            definitions.insert(name.clone(), swagger2(schema.clone()));
        }
    }
    let mut paths = Map::new();
    for route in ROUTES {
        let visible = route.action.is_some();
        if !visible && !PICKERS.contains(&route.operation_id) {
            continue;
        }
        let op = action(route, visible);
        insert(&mut paths, route.path, route.method, op);
    }
    for trigger in Trigger::ALL {
        let path = format!(
            "/v1/instances/{{instanceId}}/triggers/{}/subscriptions",
            trigger.id()
        );
        let (name, event) = trigger_op(trigger);
        insert(&mut paths, &path, "POST", name);
        if let Some(item) = paths.get_mut(&path).and_then(Value::as_object_mut) {
            item.insert(
                "x-ms-notification-content".into(),
                json!({ "description": format!("The {} event", trigger.id()), "schema": event }),
            );
        }
    }
    insert(
        &mut paths,
        "/v1/instances/{instanceId}/triggers/{trigger}/subscriptions/{id}",
        "DELETE",
        json!({
            "operationId": "DeleteTriggerSubscription",
            "summary": "Delete a trigger subscription",
            "description": "What Power Automate calls (the Location of the subscription) when a flow is turned off.",
            "x-ms-visibility": "internal",
            "parameters": [
                path(&path_param("instanceId"), false),
                {"name": "trigger", "in": "path", "required": true, "type": "string", "x-ms-summary": "Trigger"},
                {"name": "id", "in": "path", "required": true, "type": "string", "x-ms-summary": "Subscription id"},
            ],
            "responses": {
                "204": {"description": "Deleted"},
                "404": {"description": "No such subscription", "schema": {"$ref": "#/definitions/ApiErrorResult"}},
            },
        }),
    );
    let api_definition = json!({
        "swagger": "2.0",
        "info": {
            "title": "Customer Insights (insightsim)",
            "description": format!("The Dynamics 365 Customer Insights connector's API as served by insightsim, a local simulator, for testing flows. {THROTTLING}"),
            "version": env!("CARGO_PKG_VERSION"),
            "contact": {"name": "insightsim"},
        },
        "host": authority,
        "basePath": "/",
        "schemes": [scheme],
        "consumes": ["application/json"],
        "produces": ["application/json"],
        "paths": paths,
        "definitions": definitions,
        "parameters": {},
        "responses": {},
        "securityDefinitions": {
            "api_key": {
                "type": "apiKey",
                "in": "header",
                "name": "Authorization",
                "description": "Bearer <token>: any token works unless the tenant lists tokens; each token is one connection for the call limit.",
            },
        },
        "security": [{"api_key": []}],
        "tags": [],
        "x-ms-connector-metadata": [
            {"propertyName": "Website", "propertyValue": "https://learn.microsoft.com/connectors/customerinsights/"},
            {"propertyName": "Categories", "propertyValue": "Marketing;Data"},
            {"propertyName": "Throttling", "propertyValue": THROTTLING},
        ],
    });
    let api_properties = json!({
        "properties": {
            "iconBrandColor": "#0b556a",
            "publisher": "insightsim",
            "stackOwner": "insightsim",
            "capabilities": ["actions", "triggers"],
            "connectionParameters": {
                "api_key": {
                    "type": "securestring",
                    "uiDefinition": {
                        "displayName": "Authorization (Bearer token)",
                        "description": "Bearer followed by any token, e.g. Bearer my-flow: the token names the connection whose calls the simulator counts and grades.",
                        "tooltip": "Enter: Bearer <token>",
                        "constraints": {"tabIndex": 2, "clearText": false, "required": "true"},
                    },
                },
                "subscription_key": {
                    "type": "securestring",
                    "uiDefinition": {
                        "displayName": "Ocp-Apim-Subscription-Key (optional)",
                        "description": "Sent as the Ocp-Apim-Subscription-Key header; required only when the tenant file sets auth.require_subscription_key.",
                        "tooltip": "Leave empty unless the tenant requires a subscription key",
                        "constraints": {"tabIndex": 3, "clearText": false, "required": "false"},
                    },
                },
            },
            "policyTemplateInstances": [
                {
                    "templateId": "setheader",
                    "title": "Ocp-Apim-Subscription-Key from the connection",
                    "parameters": {
                        "x-ms-apimTemplateParameter.name": "Ocp-Apim-Subscription-Key",
                        "x-ms-apimTemplateParameter.value": "@connectionParameters('subscription_key')",
                        "x-ms-apimTemplateParameter.existsAction": "override",
                        "x-ms-apimTemplate-policySection": "Request",
                    },
                },
            ],
        },
    });
    Ok(Connector {
        api_definition,
        api_properties,
    })
}

fn insert(paths: &mut Map<String, Value>, path: &str, method: &str, op: Value) {
    let item = paths.entry(path.to_owned()).or_insert_with(|| json!({}));
    if let Some(item) = item.as_object_mut() {
        item.insert(method.to_ascii_lowercase(), op);
    }
}
