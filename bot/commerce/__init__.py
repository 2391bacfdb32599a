"""Commerce skills: product recommendations in chat (``recommend``, ``shopping``) and
product copy. Import what you use from its module (``from bot.commerce.recommend import
Recommender``); this package imports nothing itself, so one skill's dependencies never load
for another."""
