"""The market data ccxt's `htx` class reads before a balance: symbols and currencies."""

from __future__ import annotations

from typing import Any

# What every spot account holds: the sandbox trades nothing, so balances never move.
DEMO_BALANCES = {"usdt": "1000", "btc": "0.05", "eth": "0"}


def symbol(base: str, quote: str, price_precision: int, amount_precision: int) -> dict[str, Any]:
    """One spot symbol with every field ccxt's spot market parser reads."""
    return {
        "base-currency": base,
        "quote-currency": quote,
        "symbol": base + quote,
        "state": "online",
        "symbol-partition": "main",
        "price-precision": price_precision,
        "amount-precision": amount_precision,
        "value-precision": 8,
        "min-order-amt": 0.0001,
        "max-order-amt": 1000,
        "min-order-value": 5,
        "limit-order-min-order-amt": 0.0001,
        "limit-order-max-order-amt": 1000,
        "sell-market-min-order-amt": 0.0001,
        "sell-market-max-order-amt": 100,
        "buy-market-max-order-value": 1000000,
        "leverage-ratio": 5,
        "super-margin-leverage-ratio": 3,
        "api-trading": "enabled",
        "tags": "",
    }


def currency(name: str) -> dict[str, Any]:
    chain = {
        "chain": name if name != "usdt" else "trc20usdt",
        "displayName": {"usdt": "TRC20", "btc": "BTC", "eth": "ERC20"}[name],
        "baseChain": {"usdt": "TRX", "btc": "BTC", "eth": "ETH"}[name],
        "baseChainProtocol": "TRC20" if name == "usdt" else "",
        "isDynamic": False,
        "numOfConfirmations": 12,
        "numOfFastConfirmations": 12,
        "depositStatus": "allowed",
        "minDepositAmt": "0.0001",
        "withdrawStatus": "allowed",
        "minWithdrawAmt": "0.001",
        "withdrawPrecision": 8,
        "maxWithdrawAmt": "1000000",
        "withdrawQuotaPerDay": "1000000",
        "withdrawFeeType": "fixed",
        "transactFeeWithdraw": "0.0005",
        "addrWithTag": False,
        "addrDepositTag": False,
    }
    return {"currency": name, "assetType": 1, "chains": [chain], "instStatus": "normal"}
