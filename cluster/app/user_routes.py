"""What Starling knows about one user, read from the online store."""

import asyncio

import redis
from fastapi import APIRouter, HTTPException

from cluster.app.auth import UserDataAccess
from cluster.app.health import redis_unavailable
from cluster.app.replica import CurrentGateway
from core.api import UserHistoryItem, UserSummary

router = APIRouter(tags=["users"])


@router.get("/users/{user_id}", response_model=UserSummary, dependencies=[UserDataAccess])
async def user(user_id: int, gateway: CurrentGateway) -> UserSummary:
    """A user's rating statistics, favourite genres and recent positives; 404 when unknown,
    503 while Redis is unreachable. Needs a write or admin key unless `public_user_data` is on."""
    try:
        profile = await asyncio.to_thread(gateway.store.profile, user_id)
    except redis.RedisError:
        raise redis_unavailable() from None
    if profile is None:
        raise HTTPException(404, f"no user {user_id}")
    titles = {i: item.title for i in profile.user_recent_items if (item := gateway.catalog.get(i))}
    return UserSummary(
        user_id=user_id,
        rating_count=profile.user_rating_count,
        avg_rating=profile.user_avg_rating,
        rating_stddev=profile.user_rating_stddev,
        favourite_genres=profile.user_genres,
        recent_positives=[
            UserHistoryItem(item_id=i, title=titles.get(i, "")) for i in profile.user_recent_items
        ],
    )
