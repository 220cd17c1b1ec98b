//! Estimated cost of model calls: a price table per provider and model (USD per million tokens, cache reads
//! and writes priced apart), built in from `config/pricing.yaml` and replaceable by a file of the same shape.

use std::{collections::BTreeMap, path::Path, sync::Arc, sync::OnceLock};

use serde::{Deserialize, Serialize};

use super::{Cost, TokenUsage};

/// The built-in price table.
const EMBEDDED: &str = include_str!("../../../../config/pricing.yaml");

/// Prices of one model, in US dollars per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelPrice {
    /// Input tokens neither read from nor written to the cache.
    pub input: f64,
    /// Output tokens.
    pub output: f64,
    /// Input tokens read from the prompt cache.
    #[serde(default)]
    pub cache_read: f64,
    /// Input tokens written to the prompt cache.
    #[serde(default)]
    pub cache_write: f64,
}

impl ModelPrice {
    /// The cost of `usage` at these prices.
    pub fn cost(&self, usage: &TokenUsage) -> f64 {
        (usage.input_tokens as f64 * self.input
            + usage.output_tokens as f64 * self.output
            + usage.cache_read_tokens as f64 * self.cache_read
            + usage.cache_write_tokens as f64 * self.cache_write)
            / 1_000_000.0
    }
}

/// Prices by provider (`gen_ai.provider.name`) and model id.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceTable {
    providers: BTreeMap<String, BTreeMap<String, ModelPrice>>,
}

/// Why a price table could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PricingError {
    /// The file could not be read.
    #[error("cannot read the price table {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The YAML does not have the table's shape, or a price is negative.
    #[error("the price table {origin} is not valid: {message}")]
    Invalid { origin: String, message: String },
}

impl PriceTable {
    /// The built-in table (`config/pricing.yaml`), parsed once.
    pub fn embedded() -> Arc<PriceTable> {
        static TABLE: OnceLock<Arc<PriceTable>> = OnceLock::new();
        TABLE
            .get_or_init(|| {
                // The embedded file is checked by a unit test; an unreadable one prices nothing.
                Arc::new(Self::from_yaml("the built-in price table", EMBEDDED).unwrap_or_default())
            })
            .clone()
    }

    /// Parses a table; `origin` names it in errors.
    pub fn from_yaml(origin: &str, text: &str) -> Result<Self, PricingError> {
        let table: PriceTable =
            serde_norway::from_str(text).map_err(|e| PricingError::Invalid {
                origin: origin.to_owned(),
                message: e.to_string(),
            })?;
        for (provider, models) in &table.providers {
            for (model, price) in models {
                let values = [
                    price.input,
                    price.output,
                    price.cache_read,
                    price.cache_write,
                ];
                if values.iter().any(|v| !v.is_finite() || *v < 0.0) {
                    return Err(PricingError::Invalid {
                        origin: origin.to_owned(),
                        message: format!(
                            "{provider} / {model}: prices must be zero or positive numbers"
                        ),
                    });
                }
            }
        }
        Ok(table)
    }

    /// Reads a table from a YAML file.
    pub fn load(path: &Path) -> Result<Self, PricingError> {
        let text = std::fs::read_to_string(path).map_err(|source| PricingError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_yaml(&path.display().to_string(), &text)
    }

    /// The price of `model` at `provider`, if listed.
    pub fn price(&self, provider: &str, model: &str) -> Option<&ModelPrice> {
        self.providers.get(provider)?.get(model)
    }

    /// The cost of one call: priced by the model that answered when it is listed, else by the model asked
    /// for; unknown when neither is listed.
    pub fn cost(
        &self,
        provider: &str,
        request_model: &str,
        response_model: Option<&str>,
        usage: &TokenUsage,
    ) -> Cost {
        response_model
            .and_then(|m| self.price(provider, m))
            .or_else(|| self.price(provider, request_model))
            .map_or_else(Cost::unknown, |price| Cost::usd(price.cost(usage)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_table_parses_and_prices_the_default_bedrock_model() {
        let table = PriceTable::from_yaml("embedded", EMBEDDED).expect("valid embedded table");
        let haiku = table
            .price(
                "aws.bedrock",
                "global.anthropic.claude-haiku-4-5-20251001-v1:0",
            )
            .expect("the default model has a price");
        assert_eq!(haiku.input, 1.0);
        assert!(table.price("sre.offline", "offline-analyst-1").is_some());
        assert_eq!(*PriceTable::embedded(), table);
    }

    #[test]
    fn cache_tokens_have_their_own_prices() {
        let price = ModelPrice {
            input: 1.0,
            output: 5.0,
            cache_read: 0.1,
            cache_write: 1.25,
        };
        let usage = TokenUsage {
            input_tokens: 1_000_000,
            output_tokens: 100_000,
            cache_read_tokens: 2_000_000,
            cache_write_tokens: 400_000,
            ..TokenUsage::default()
        };
        // 1.0 + 0.5 + 0.2 + 0.5
        assert!((price.cost(&usage) - 2.2).abs() < 1e-9);
    }

    #[test]
    fn unknown_models_have_unknown_cost_and_the_response_model_wins() {
        let table = PriceTable::from_yaml(
            "test",
            "providers:\n  openai:\n    gpt-x: {input: 1, output: 2}\n    gpt-x-2025: {input: 10, output: 20}\n",
        )
        .expect("valid");
        let usage = TokenUsage {
            input_tokens: 1_000_000,
            ..TokenUsage::default()
        };
        assert_eq!(table.cost("openai", "nope", None, &usage).known(), None);
        assert_eq!(
            table.cost("anthropic", "gpt-x", None, &usage),
            Cost::unknown()
        );
        assert_eq!(
            table.cost("openai", "gpt-x", None, &usage).known(),
            Some(1.0)
        );
        assert_eq!(
            table
                .cost("openai", "gpt-x", Some("gpt-x-2025"), &usage)
                .known(),
            Some(10.0)
        );
        assert_eq!(
            table
                .cost("openai", "gpt-x", Some("unlisted"), &usage)
                .known(),
            Some(1.0)
        );
    }

    #[test]
    fn negative_or_unknown_fields_are_rejected() {
        assert!(
            PriceTable::from_yaml("t", "providers:\n  a:\n    m: {input: -1, output: 0}\n")
                .is_err()
        );
        assert!(
            PriceTable::from_yaml("t", "providers:\n  a:\n    m: {input: 1, outptu: 0}\n").is_err()
        );
    }
}
