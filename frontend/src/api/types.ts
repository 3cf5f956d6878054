/** Short names for the generated schema types (never hand-written twice). */
import type { components } from '@/api/schema'

type Schemas = components['schemas']

export type User = Schemas['UserPublic']
export type TokenPair = Schemas['TokenPair']
export type AuthOptions = Schemas['AuthOptions']
export type MessageSearchHit = Schemas['MessageSearchHit']
export type RegisterRequest = Schemas['RegisterRequest']
export type RegistrationAccepted = Schemas['RegistrationAccepted']
export type AccountNotice = Schemas['AccountNoticePublic']
export type PlatformSettings = Schemas['PlatformSettingsPublic']
export type PlatformSettingsUpdate = Schemas['PlatformSettingsUpdate']
export type UserUpdateAdmin = Schemas['UserUpdateAdmin']
export type UserCreateAdmin = Schemas['UserCreateAdmin']
export type AccountLink = Schemas['AccountLinkPublic']
export type AuditEvent = Schemas['AuditEventPublic']
export type LinkInfo = Schemas['LinkInfoPublic']

export type Assistant = Schemas['AssistantPublic']
export type AssistantCreate = Schemas['AssistantCreate']
export type AssistantUpdate = Schemas['AssistantUpdate']
export type AssistantExport = Schemas['AssistantExport']
export type AssistantParameters = Schemas['AssistantParameters']
export type AssistantToolSpec = Assistant['tools'][number]
export type FunctionToolSpec = Schemas['FunctionTool']
export type AgentToolSpec = Schemas['AssistantTool']

export type Conversation = Schemas['ConversationPublic']
export type ConversationUpdate = Schemas['ConversationUpdate']
export type Message = Schemas['MessagePublic']

export interface Page<T> {
  data: T[]
  count: number
}

export type ThreadPublic = Schemas['ThreadPublic']
export type Provider = Schemas['ProviderPublic']
export type ProviderCreate = Schemas['ProviderCreate']
export type ProviderUpdate = Schemas['ProviderUpdate']
export type ConnectionTest = Schemas['ConnectionTest']
export type Prices = Schemas['PricesPublic']
export type PricesUpdate = Schemas['PricesUpdate']
export type ModelPrice = Schemas['ModelPriceIn']
export type BudgetLimits = Schemas['BudgetLimits']
export type UserBudget = Schemas['UserBudgetPublic']
export type UsageReport = Schemas['UsageReport']
export type UsageGroup = Schemas['UsageGroup']
export type UsageTotals = Schemas['UsageTotals']
export type UsageSummary = Schemas['UsageSummary']
export type BudgetStatus = Schemas['BudgetStatus']
export type FilePublic = Schemas['FilePublic']
export type FilesPublic = Schemas['FilesPublic']

export type KnowledgeBase = Schemas['KnowledgeBasePublic']
export type KnowledgeBaseCreate = Schemas['KnowledgeBaseCreate']
export type KnowledgeDocument = Schemas['DocumentPublic']
export type SearchHit = Schemas['SearchHit']
export type CitedPage = Schemas['CitedPage']
