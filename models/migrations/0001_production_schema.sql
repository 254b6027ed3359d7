-- 0001_production_schema: the production schema exactly as Prisma 5.22 (`prisma db push`)
-- creates it from the reference schema.prisma (spec/domain-model.md sections 1-3).
-- An existing production database already holds all of this: `models.migrate` then records
-- this file as a baseline instead of running it.

-- CreateEnum
CREATE TYPE "ProfileType" AS ENUM ('PATIENT', 'DONOR');

-- CreateEnum
CREATE TYPE "AllocationStatus" AS ENUM ('PENDING', 'MATCHED', 'CLAIMED', 'EXPIRED');

-- CreateEnum
CREATE TYPE "StaffStatus" AS ENUM ('ACTIVE', 'SUSPENDED');

-- CreateEnum
CREATE TYPE "CampaignStatus" AS ENUM ('ACTIVE', 'COMPLETED', 'DELETED', 'PENDING', 'SUSPENDED');

-- CreateEnum
CREATE TYPE "AppointmentStatus" AS ENUM ('PENDING', 'SCHEDULED', 'IN_PROGRESS', 'COMPLETED', 'CANCELLED');

-- CreateEnum
CREATE TYPE "TransactionType" AS ENUM ('DONATION', 'APPOINTMENT', 'PAYOUT', 'REFUND');

-- CreateEnum
CREATE TYPE "Gender" AS ENUM ('MALE', 'FEMALE');

-- CreateEnum
CREATE TYPE "ServiceCenterStatus" AS ENUM ('ACTIVE', 'INACTIVE', 'SUSPENDED');

-- CreateEnum
CREATE TYPE "TransactionStatus" AS ENUM ('PENDING', 'COMPLETED', 'FAILED');

-- CreateEnum
CREATE TYPE "PayoutStatus" AS ENUM ('PENDING', 'PROCESSING', 'SUCCESS', 'FAILED', 'CANCELLED', 'RETRY_PENDING');

-- CreateEnum
CREATE TYPE "PayoutType" AS ENUM ('MANUAL', 'AUTOMATED', 'RETRY');

-- CreateEnum
CREATE TYPE "MatchingExecutionStatus" AS ENUM ('RUNNING', 'COMPLETED', 'FAILED', 'PARTIALLY_COMPLETED');

-- CreateEnum
CREATE TYPE "LogLevel" AS ENUM ('INFO', 'WARNING', 'ERROR');

-- CreateTable
CREATE TABLE "User" (
    "id" TEXT NOT NULL,
    "fullName" TEXT NOT NULL,
    "email" TEXT NOT NULL,
    "phone" TEXT,
    "passwordHash" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "User_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "PatientProfile" (
    "id" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "gender" "Gender",
    "dateOfBirth" TIMESTAMP(3) NOT NULL,
    "city" TEXT,
    "state" TEXT,
    "emailVerified" TIMESTAMP(3),

    CONSTRAINT "PatientProfile_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "DonorProfile" (
    "id" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "organizationName" TEXT,
    "country" TEXT,
    "emailVerified" TIMESTAMP(3),

    CONSTRAINT "DonorProfile_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Admins" (
    "id" TEXT NOT NULL,
    "fullName" TEXT NOT NULL,
    "email" TEXT NOT NULL,
    "passwordHash" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Admins_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "AdminResetToken" (
    "id" TEXT NOT NULL,
    "adminId" TEXT NOT NULL,
    "token" TEXT NOT NULL,
    "expiresAt" TIMESTAMP(3) NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "AdminResetToken_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ServiceCenter" (
    "id" TEXT NOT NULL,
    "email" TEXT NOT NULL,
    "passwordHash" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "phone" TEXT,
    "centerName" TEXT NOT NULL,
    "address" TEXT NOT NULL,
    "state" TEXT NOT NULL,
    "lga" TEXT NOT NULL,
    "bankAccount" TEXT,
    "bankName" TEXT,
    "bankCode" TEXT,
    "accountName" TEXT,
    "status" "ServiceCenterStatus" NOT NULL DEFAULT 'INACTIVE',

    CONSTRAINT "ServiceCenter_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ServiceCenterScreeningType" (
    "id" TEXT NOT NULL,
    "centerId" TEXT NOT NULL,
    "screeningTypeId" TEXT NOT NULL,
    "amount" DOUBLE PRECISION NOT NULL DEFAULT 10000.0,

    CONSTRAINT "ServiceCenterScreeningType_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ScreeningType" (
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT,
    "screeningTypeCategoryId" TEXT NOT NULL,
    "active" BOOLEAN NOT NULL DEFAULT true,
    "agreedPrice" DOUBLE PRECISION NOT NULL DEFAULT 10000.0,

    CONSTRAINT "ScreeningType_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ScreeningTypeCategory" (
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT,

    CONSTRAINT "ScreeningTypeCategory_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Waitlist" (
    "id" TEXT NOT NULL,
    "screeningTypeId" TEXT NOT NULL,
    "patientId" TEXT NOT NULL,
    "status" "AllocationStatus" NOT NULL,
    "joinedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "claimedAt" TIMESTAMP(3),
    "expiredAt" TIMESTAMP(3),

    CONSTRAINT "Waitlist_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "DonationCampaign" (
    "id" TEXT NOT NULL,
    "donorId" TEXT NOT NULL,
    "totalAmount" DOUBLE PRECISION NOT NULL,
    "availableAmount" DOUBLE PRECISION NOT NULL,
    "title" TEXT NOT NULL,
    "purpose" TEXT,
    "targetGender" "Gender",
    "targetAgeRange" TEXT,
    "targetStates" TEXT[],
    "targetLgas" TEXT[],
    "status" "CampaignStatus" NOT NULL,
    "expiryDate" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "DonationCampaign_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "DonationAllocation" (
    "id" TEXT NOT NULL,
    "waitlistId" TEXT NOT NULL,
    "appointmentId" TEXT,
    "patientId" TEXT NOT NULL,
    "campaignId" TEXT NOT NULL,
    "claimedAt" TIMESTAMP(3),
    "matchingExecutionId" TEXT,
    "amountAllocated" DOUBLE PRECISION,
    "createdViaMatching" BOOLEAN NOT NULL DEFAULT false,

    CONSTRAINT "DonationAllocation_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Appointment" (
    "id" TEXT NOT NULL,
    "patientId" TEXT NOT NULL,
    "centerId" TEXT NOT NULL,
    "screeningTypeId" TEXT NOT NULL,
    "donationId" TEXT,
    "isDonation" BOOLEAN NOT NULL DEFAULT false,
    "appointmentDateTime" TIMESTAMP(3) NOT NULL,
    "transactionId" TEXT,
    "status" "AppointmentStatus" NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "cancellationReason" TEXT,
    "cancellationDate" TIMESTAMP(3),
    "checkInCode" TEXT,
    "checkInCodeExpiresAt" TIMESTAMP(3),

    CONSTRAINT "Appointment_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "AppointmentVerification" (
    "id" TEXT NOT NULL,
    "appointmentId" TEXT NOT NULL,
    "verifiedBy" TEXT,
    "verifiedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "AppointmentVerification_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ScreeningResult" (
    "id" TEXT NOT NULL,
    "appointmentId" TEXT NOT NULL,
    "notes" TEXT,
    "uploadedBy" TEXT,
    "uploadedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ScreeningResult_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ScreeningResultFile" (
    "id" TEXT NOT NULL,
    "resultId" TEXT NOT NULL,
    "fileName" TEXT NOT NULL,
    "filePath" TEXT NOT NULL,
    "fileType" TEXT NOT NULL,
    "fileSize" INTEGER NOT NULL,
    "cloudinaryUrl" TEXT NOT NULL,
    "cloudinaryId" TEXT NOT NULL,
    "uploadedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "isDeleted" BOOLEAN NOT NULL DEFAULT false,
    "deletedAt" TIMESTAMP(3),
    "deletedBy" TEXT,
    "deletionReason" TEXT,

    CONSTRAINT "ScreeningResultFile_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "StoreProduct" (
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT,
    "price" DOUBLE PRECISION NOT NULL,
    "stock" INTEGER NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "StoreProduct_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Receipt" (
    "id" TEXT NOT NULL,
    "transactionId" TEXT NOT NULL,
    "receiptNumber" TEXT NOT NULL,
    "receiptData" JSONB NOT NULL,
    "pdfPath" TEXT,
    "emailSentAt" TIMESTAMP(3),
    "emailRecipient" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Receipt_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Transaction" (
    "id" TEXT NOT NULL,
    "type" "TransactionType" NOT NULL,
    "status" "TransactionStatus" NOT NULL,
    "amount" DOUBLE PRECISION NOT NULL,
    "relatedDonationId" TEXT,
    "paymentReference" TEXT,
    "paymentChannel" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Transaction_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "paystack_recipients" (
    "id" TEXT NOT NULL,
    "centerId" TEXT NOT NULL,
    "recipientCode" TEXT NOT NULL,
    "reference" TEXT NOT NULL,
    "bankName" TEXT NOT NULL,
    "bankCode" TEXT NOT NULL,
    "accountNumber" TEXT NOT NULL,
    "accountName" TEXT NOT NULL,
    "isActive" BOOLEAN NOT NULL DEFAULT true,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "paystack_recipients_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "payouts" (
    "id" TEXT NOT NULL,
    "batchReference" TEXT NOT NULL,
    "payoutNumber" TEXT NOT NULL,
    "centerId" TEXT NOT NULL,
    "recipientId" TEXT,
    "amount" DOUBLE PRECISION NOT NULL,
    "currency" TEXT NOT NULL DEFAULT 'NGN',
    "paystackFee" DOUBLE PRECISION NOT NULL DEFAULT 10.00,
    "netAmount" DOUBLE PRECISION NOT NULL,
    "transferReference" TEXT,
    "paystackTransferId" TEXT,
    "status" "PayoutStatus" NOT NULL DEFAULT 'PENDING',
    "type" "PayoutType" NOT NULL DEFAULT 'MANUAL',
    "initiatedBy" TEXT,
    "processedAt" TIMESTAMP(3),
    "completedAt" TIMESTAMP(3),
    "failureReason" TEXT,
    "retryCount" INTEGER NOT NULL DEFAULT 0,
    "maxRetries" INTEGER NOT NULL DEFAULT 3,
    "periodStart" TIMESTAMP(3) NOT NULL,
    "periodEnd" TIMESTAMP(3) NOT NULL,
    "reason" TEXT NOT NULL,
    "internalNotes" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "payouts_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "payout_items" (
    "id" TEXT NOT NULL,
    "payoutId" TEXT NOT NULL,
    "transactionId" TEXT NOT NULL,
    "amount" DOUBLE PRECISION NOT NULL,
    "description" TEXT NOT NULL,
    "serviceDate" TIMESTAMP(3) NOT NULL,
    "appointmentId" TEXT,

    CONSTRAINT "payout_items_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "PasswordResetToken" (
    "id" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "token" TEXT NOT NULL,
    "expiresAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "PasswordResetToken_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "EmailVerificationToken" (
    "id" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "token" TEXT NOT NULL,
    "profileType" "ProfileType" NOT NULL,
    "expiresAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "EmailVerificationToken_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Notification" (
    "id" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "title" TEXT NOT NULL,
    "message" TEXT NOT NULL,
    "data" JSONB,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Notification_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "NotificationRecipient" (
    "id" TEXT NOT NULL,
    "notificationId" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "read" BOOLEAN NOT NULL DEFAULT false,
    "readAt" TIMESTAMP(3),

    CONSTRAINT "NotificationRecipient_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "CenterStaff" (
    "id" TEXT NOT NULL,
    "centerId" TEXT NOT NULL,
    "email" TEXT NOT NULL,
    "passwordHash" TEXT NOT NULL,
    "role" TEXT,
    "status" "StaffStatus" DEFAULT 'ACTIVE',
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "CenterStaff_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "CenterStaffInvite" (
    "id" TEXT NOT NULL,
    "centerId" TEXT NOT NULL,
    "email" TEXT NOT NULL,
    "token" TEXT NOT NULL,
    "expiresAt" TIMESTAMP(3),
    "acceptedAt" TIMESTAMP(3),

    CONSTRAINT "CenterStaffInvite_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "CenterStaffResetToken" (
    "id" TEXT NOT NULL,
    "staffId" TEXT NOT NULL,
    "token" TEXT NOT NULL,
    "expiresAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "CenterStaffResetToken_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "matching_executions" (
    "id" TEXT NOT NULL,
    "executionReference" TEXT NOT NULL,
    "startedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "completedAt" TIMESTAMP(3),
    "status" "MatchingExecutionStatus" NOT NULL DEFAULT 'RUNNING',
    "screeningTypesProcessed" INTEGER NOT NULL DEFAULT 0,
    "patientsEvaluated" INTEGER NOT NULL DEFAULT 0,
    "successfulMatches" INTEGER NOT NULL DEFAULT 0,
    "skippedDueToLimits" INTEGER NOT NULL DEFAULT 0,
    "skippedDueToNoFunding" INTEGER NOT NULL DEFAULT 0,
    "skippedDueToExistingMatch" INTEGER NOT NULL DEFAULT 0,
    "totalFundsAllocated" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "generalPoolFundsUsed" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "campaignsUsedCount" INTEGER NOT NULL DEFAULT 0,
    "processingTimeMs" INTEGER,
    "dbQueriesCount" INTEGER NOT NULL DEFAULT 0,
    "notificationsSent" INTEGER NOT NULL DEFAULT 0,
    "errors" JSONB,
    "warnings" JSONB,
    "batchConfig" JSONB,

    CONSTRAINT "matching_executions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "matching_execution_logs" (
    "id" TEXT NOT NULL,
    "executionId" TEXT NOT NULL,
    "timestamp" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "level" "LogLevel" NOT NULL,
    "message" TEXT NOT NULL,
    "context" JSONB,
    "patientId" TEXT,
    "campaignId" TEXT,
    "waitlistId" TEXT,
    "screeningTypeId" TEXT,
    "allocationId" TEXT,

    CONSTRAINT "matching_execution_logs_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "matching_screening_type_results" (
    "id" TEXT NOT NULL,
    "executionId" TEXT NOT NULL,
    "screeningTypeId" TEXT NOT NULL,
    "screeningTypeName" TEXT NOT NULL,
    "patientsFound" INTEGER NOT NULL,
    "patientsProcessed" INTEGER NOT NULL,
    "matchesCreated" INTEGER NOT NULL,
    "skippedDueToLimits" INTEGER NOT NULL,
    "skippedDueToNoFunding" INTEGER NOT NULL,
    "skippedDueToExisting" INTEGER NOT NULL,
    "fundsAllocated" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "campaignsUsed" JSONB NOT NULL,
    "generalPoolUsed" BOOLEAN NOT NULL DEFAULT false,
    "generalPoolAmount" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "targetingMatches" INTEGER NOT NULL DEFAULT 0,
    "targetingMismatches" INTEGER NOT NULL DEFAULT 0,
    "processingStarted" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "processingCompleted" TIMESTAMP(3),
    "processingTimeMs" INTEGER,

    CONSTRAINT "matching_screening_type_results_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "_ScreeningTypeToServiceCenter" (
    "A" TEXT NOT NULL,
    "B" TEXT NOT NULL
);

-- CreateTable
CREATE TABLE "_DonationCampaignScreeningTypes" (
    "A" TEXT NOT NULL,
    "B" TEXT NOT NULL
);

-- CreateIndex
CREATE UNIQUE INDEX "User_email_key" ON "User"("email");

-- CreateIndex
CREATE UNIQUE INDEX "PatientProfile_userId_key" ON "PatientProfile"("userId");

-- CreateIndex
CREATE UNIQUE INDEX "DonorProfile_userId_key" ON "DonorProfile"("userId");

-- CreateIndex
CREATE UNIQUE INDEX "Admins_email_key" ON "Admins"("email");

-- CreateIndex
CREATE UNIQUE INDEX "AdminResetToken_token_key" ON "AdminResetToken"("token");

-- CreateIndex
CREATE UNIQUE INDEX "ServiceCenter_email_key" ON "ServiceCenter"("email");

-- CreateIndex
CREATE UNIQUE INDEX "ServiceCenterScreeningType_centerId_screeningTypeId_key" ON "ServiceCenterScreeningType"("centerId", "screeningTypeId");

-- CreateIndex
CREATE UNIQUE INDEX "ScreeningType_name_key" ON "ScreeningType"("name");

-- CreateIndex
CREATE INDEX "Waitlist_patientId_status_idx" ON "Waitlist"("patientId", "status");

-- CreateIndex
CREATE INDEX "Waitlist_status_screeningTypeId_joinedAt_idx" ON "Waitlist"("status", "screeningTypeId", "joinedAt");

-- CreateIndex
CREATE INDEX "DonationCampaign_status_availableAmount_idx" ON "DonationCampaign"("status", "availableAmount");

-- CreateIndex
CREATE INDEX "DonationCampaign_status_createdAt_idx" ON "DonationCampaign"("status", "createdAt");

-- CreateIndex
CREATE UNIQUE INDEX "DonationAllocation_waitlistId_key" ON "DonationAllocation"("waitlistId");

-- CreateIndex
CREATE UNIQUE INDEX "Appointment_checkInCode_key" ON "Appointment"("checkInCode");

-- CreateIndex
CREATE UNIQUE INDEX "AppointmentVerification_appointmentId_key" ON "AppointmentVerification"("appointmentId");

-- CreateIndex
CREATE UNIQUE INDEX "ScreeningResult_appointmentId_key" ON "ScreeningResult"("appointmentId");

-- CreateIndex
CREATE INDEX "ScreeningResultFile_isDeleted_resultId_idx" ON "ScreeningResultFile"("isDeleted", "resultId");

-- CreateIndex
CREATE INDEX "Receipt_receiptNumber_idx" ON "Receipt"("receiptNumber");

-- CreateIndex
CREATE UNIQUE INDEX "Receipt_receiptNumber_key" ON "Receipt"("receiptNumber");

-- CreateIndex
CREATE INDEX "Receipt_transactionId_idx" ON "Receipt"("transactionId");

-- CreateIndex
CREATE UNIQUE INDEX "Receipt_transactionId_key" ON "Receipt"("transactionId");

-- CreateIndex
CREATE UNIQUE INDEX "paystack_recipients_centerId_key" ON "paystack_recipients"("centerId");

-- CreateIndex
CREATE UNIQUE INDEX "paystack_recipients_recipientCode_key" ON "paystack_recipients"("recipientCode");

-- CreateIndex
CREATE UNIQUE INDEX "paystack_recipients_reference_key" ON "paystack_recipients"("reference");

-- CreateIndex
CREATE UNIQUE INDEX "payouts_payoutNumber_key" ON "payouts"("payoutNumber");

-- CreateIndex
CREATE UNIQUE INDEX "payouts_paystackTransferId_key" ON "payouts"("paystackTransferId");

-- CreateIndex
CREATE UNIQUE INDEX "payouts_transferReference_key" ON "payouts"("transferReference");

-- CreateIndex
CREATE UNIQUE INDEX "payout_items_transactionId_key" ON "payout_items"("transactionId");

-- CreateIndex
CREATE UNIQUE INDEX "PasswordResetToken_token_key" ON "PasswordResetToken"("token");

-- CreateIndex
CREATE UNIQUE INDEX "EmailVerificationToken_token_key" ON "EmailVerificationToken"("token");

-- CreateIndex
CREATE UNIQUE INDEX "CenterStaff_centerId_email_key" ON "CenterStaff"("centerId", "email");

-- CreateIndex
CREATE UNIQUE INDEX "CenterStaffInvite_token_key" ON "CenterStaffInvite"("token");

-- CreateIndex
CREATE UNIQUE INDEX "CenterStaffResetToken_token_key" ON "CenterStaffResetToken"("token");

-- CreateIndex
CREATE UNIQUE INDEX "matching_executions_executionReference_key" ON "matching_executions"("executionReference");

-- CreateIndex
CREATE INDEX "matching_execution_logs_executionId_timestamp_idx" ON "matching_execution_logs"("executionId", "timestamp");

-- CreateIndex
CREATE UNIQUE INDEX "matching_screening_type_results_executionId_screeningTypeId_key" ON "matching_screening_type_results"("executionId", "screeningTypeId");

-- CreateIndex
CREATE UNIQUE INDEX "_ScreeningTypeToServiceCenter_AB_unique" ON "_ScreeningTypeToServiceCenter"("A", "B");

-- CreateIndex
CREATE INDEX "_ScreeningTypeToServiceCenter_B_index" ON "_ScreeningTypeToServiceCenter"("B");

-- CreateIndex
CREATE UNIQUE INDEX "_DonationCampaignScreeningTypes_AB_unique" ON "_DonationCampaignScreeningTypes"("A", "B");

-- CreateIndex
CREATE INDEX "_DonationCampaignScreeningTypes_B_index" ON "_DonationCampaignScreeningTypes"("B");

-- AddForeignKey
ALTER TABLE "PatientProfile" ADD CONSTRAINT "PatientProfile_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "DonorProfile" ADD CONSTRAINT "DonorProfile_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "AdminResetToken" ADD CONSTRAINT "AdminResetToken_adminId_fkey" FOREIGN KEY ("adminId") REFERENCES "Admins"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ServiceCenterScreeningType" ADD CONSTRAINT "ServiceCenterScreeningType_centerId_fkey" FOREIGN KEY ("centerId") REFERENCES "ServiceCenter"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ServiceCenterScreeningType" ADD CONSTRAINT "ServiceCenterScreeningType_screeningTypeId_fkey" FOREIGN KEY ("screeningTypeId") REFERENCES "ScreeningType"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ScreeningType" ADD CONSTRAINT "ScreeningType_screeningTypeCategoryId_fkey" FOREIGN KEY ("screeningTypeCategoryId") REFERENCES "ScreeningTypeCategory"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Waitlist" ADD CONSTRAINT "Waitlist_patientId_fkey" FOREIGN KEY ("patientId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Waitlist" ADD CONSTRAINT "Waitlist_screeningTypeId_fkey" FOREIGN KEY ("screeningTypeId") REFERENCES "ScreeningType"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "DonationCampaign" ADD CONSTRAINT "DonationCampaign_donorId_fkey" FOREIGN KEY ("donorId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "DonationAllocation" ADD CONSTRAINT "DonationAllocation_appointmentId_fkey" FOREIGN KEY ("appointmentId") REFERENCES "Appointment"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "DonationAllocation" ADD CONSTRAINT "DonationAllocation_campaignId_fkey" FOREIGN KEY ("campaignId") REFERENCES "DonationCampaign"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "DonationAllocation" ADD CONSTRAINT "DonationAllocation_matchingExecutionId_fkey" FOREIGN KEY ("matchingExecutionId") REFERENCES "matching_executions"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "DonationAllocation" ADD CONSTRAINT "DonationAllocation_patientId_fkey" FOREIGN KEY ("patientId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "DonationAllocation" ADD CONSTRAINT "DonationAllocation_waitlistId_fkey" FOREIGN KEY ("waitlistId") REFERENCES "Waitlist"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Appointment" ADD CONSTRAINT "Appointment_centerId_fkey" FOREIGN KEY ("centerId") REFERENCES "ServiceCenter"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Appointment" ADD CONSTRAINT "Appointment_patientId_fkey" FOREIGN KEY ("patientId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Appointment" ADD CONSTRAINT "Appointment_screeningTypeId_fkey" FOREIGN KEY ("screeningTypeId") REFERENCES "ScreeningType"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Appointment" ADD CONSTRAINT "Appointment_transactionId_fkey" FOREIGN KEY ("transactionId") REFERENCES "Transaction"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "AppointmentVerification" ADD CONSTRAINT "AppointmentVerification_appointmentId_fkey" FOREIGN KEY ("appointmentId") REFERENCES "Appointment"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "AppointmentVerification" ADD CONSTRAINT "AppointmentVerification_verifiedBy_fkey" FOREIGN KEY ("verifiedBy") REFERENCES "CenterStaff"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ScreeningResult" ADD CONSTRAINT "ScreeningResult_appointmentId_fkey" FOREIGN KEY ("appointmentId") REFERENCES "Appointment"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ScreeningResult" ADD CONSTRAINT "ScreeningResult_uploadedBy_fkey" FOREIGN KEY ("uploadedBy") REFERENCES "CenterStaff"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ScreeningResultFile" ADD CONSTRAINT "ScreeningResultFile_deletedBy_fkey" FOREIGN KEY ("deletedBy") REFERENCES "CenterStaff"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ScreeningResultFile" ADD CONSTRAINT "ScreeningResultFile_resultId_fkey" FOREIGN KEY ("resultId") REFERENCES "ScreeningResult"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Receipt" ADD CONSTRAINT "Receipt_transactionId_fkey" FOREIGN KEY ("transactionId") REFERENCES "Transaction"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Transaction" ADD CONSTRAINT "Transaction_relatedDonationId_fkey" FOREIGN KEY ("relatedDonationId") REFERENCES "DonationCampaign"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "paystack_recipients" ADD CONSTRAINT "paystack_recipients_centerId_fkey" FOREIGN KEY ("centerId") REFERENCES "ServiceCenter"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "payouts" ADD CONSTRAINT "payouts_centerId_fkey" FOREIGN KEY ("centerId") REFERENCES "ServiceCenter"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "payouts" ADD CONSTRAINT "payouts_recipientId_fkey" FOREIGN KEY ("recipientId") REFERENCES "paystack_recipients"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "payout_items" ADD CONSTRAINT "payout_items_payoutId_fkey" FOREIGN KEY ("payoutId") REFERENCES "payouts"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "payout_items" ADD CONSTRAINT "payout_items_transactionId_fkey" FOREIGN KEY ("transactionId") REFERENCES "Transaction"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "PasswordResetToken" ADD CONSTRAINT "PasswordResetToken_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "EmailVerificationToken" ADD CONSTRAINT "EmailVerificationToken_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "NotificationRecipient" ADD CONSTRAINT "NotificationRecipient_notificationId_fkey" FOREIGN KEY ("notificationId") REFERENCES "Notification"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "NotificationRecipient" ADD CONSTRAINT "NotificationRecipient_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "CenterStaff" ADD CONSTRAINT "CenterStaff_centerId_fkey" FOREIGN KEY ("centerId") REFERENCES "ServiceCenter"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "CenterStaffInvite" ADD CONSTRAINT "CenterStaffInvite_centerId_fkey" FOREIGN KEY ("centerId") REFERENCES "ServiceCenter"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "CenterStaffResetToken" ADD CONSTRAINT "CenterStaffResetToken_staffId_fkey" FOREIGN KEY ("staffId") REFERENCES "CenterStaff"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "matching_execution_logs" ADD CONSTRAINT "matching_execution_logs_executionId_fkey" FOREIGN KEY ("executionId") REFERENCES "matching_executions"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "matching_screening_type_results" ADD CONSTRAINT "matching_screening_type_results_executionId_fkey" FOREIGN KEY ("executionId") REFERENCES "matching_executions"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "matching_screening_type_results" ADD CONSTRAINT "matching_screening_type_results_screeningTypeId_fkey" FOREIGN KEY ("screeningTypeId") REFERENCES "ScreeningType"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "_ScreeningTypeToServiceCenter" ADD CONSTRAINT "_ScreeningTypeToServiceCenter_A_fkey" FOREIGN KEY ("A") REFERENCES "ScreeningType"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "_ScreeningTypeToServiceCenter" ADD CONSTRAINT "_ScreeningTypeToServiceCenter_B_fkey" FOREIGN KEY ("B") REFERENCES "ServiceCenter"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "_DonationCampaignScreeningTypes" ADD CONSTRAINT "_DonationCampaignScreeningTypes_A_fkey" FOREIGN KEY ("A") REFERENCES "DonationCampaign"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "_DonationCampaignScreeningTypes" ADD CONSTRAINT "_DonationCampaignScreeningTypes_B_fkey" FOREIGN KEY ("B") REFERENCES "ScreeningType"("id") ON DELETE CASCADE ON UPDATE CASCADE;
