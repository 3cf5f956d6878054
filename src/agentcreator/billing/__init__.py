"""Cost management: pricing (pure math), budgets (rules and refusals) and the meter chat/ uses."""

from agentcreator.billing.meter import AssistantBudget, Billing, CallTarget, Reservation, usage_doc
from agentcreator.billing.pricing import Cost, ModelRate, PriceTable, format_usd, max_call_cost, price_call

__all__ = ["AssistantBudget", "Billing", "CallTarget", "Cost", "ModelRate", "PriceTable", "Reservation",
           "format_usd", "max_call_cost", "price_call", "usage_doc"]
