"""The API's GraphQL schema: the reference's queries and mutations, camelCased by graphene."""

import graphene

from interest_pipeline.api.mutations import Mutation
from interest_pipeline.api.queries import Query

schema = graphene.Schema(query=Query, mutation=Mutation)
